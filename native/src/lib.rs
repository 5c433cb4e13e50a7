//! pyz's Node-API addon: libdeflate on native threads, without any crate.
//!
//! JavaScript sees one function and one flag (wrapped by packages/core/src/compress/native.ts):
//!
//! ```text
//! deflate(sources: (Uint8Array | string)[], endsStream: Uint8Array, level: number,
//!         threads: number, pieceSize: number, fileLimit: number, meta: Float64Array,
//!         digests: Uint8Array)
//!   : Promise<[output: Buffer, errors: (string | undefined)[] | undefined]>
//! fileTasks: boolean
//! ```
//!
//! A source is either bytes (a piece of a member: deflated with src/pyz_deflate.c, left open
//! for the next piece when `endsStream[i] == 0`) or a file path. A file is read, hashed (SHA-256)
//! and deflated on the pool, so the main thread neither reads nor hashes it (a file larger than
//! `pieceSize` is cut into pieces deflated in parallel, exactly as the buffer path cuts it); if
//! deflate does not shrink it the file's own bytes come back (SPEC §4: stored), and a file that
//! turns out larger than `fileLimit` comes back empty with status OVERSIZE (the caller reads it
//! itself).
//! Results land in one Buffer; `meta` gets, per source, [offset, length, crc32, bytes read,
//! status] and `digests` the 32-byte SHA-256 of every file source.
//!
//! Work runs on a pool of persistent threads (grown to the largest `threads` asked for), fed
//! from one FIFO queue of single sources, so consecutive calls overlap and no core waits for the
//! slowest piece of a call; the last source of a call hands the call back to the main thread
//! through a thread-safe function, which resolves the promise. Compressors are allocated once
//! per thread and level.
//!
//! SHA-256 comes from the OpenSSL that Node itself exports (`SHA256`, found with dlsym at load
//! time); where the running Node does not export it, `fileTasks` is false and JavaScript reads
//! and hashes files itself.
//!
//! The Node-API functions are declared by hand below (signatures from node_api.h, stable since
//! Node-API 1-3); they resolve against the node binary when the addon is loaded.
#![allow(non_camel_case_types)]

use std::collections::VecDeque;
use std::ffi::{c_char, c_int, c_void, CString};
use std::io::Read;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

type napi_env = *mut c_void;
type napi_value = *mut c_void;
type napi_callback_info = *mut c_void;
type napi_deferred = *mut c_void;
type napi_threadsafe_function = *mut c_void;
type napi_ref = *mut c_void;
type napi_status = c_int;
type napi_callback = Option<unsafe extern "C" fn(napi_env, napi_callback_info) -> napi_value>;
type napi_finalize = Option<unsafe extern "C" fn(napi_env, *mut c_void, *mut c_void)>;
type napi_threadsafe_function_call_js = Option<unsafe extern "C" fn(napi_env, napi_value, *mut c_void, *mut c_void)>;

const NAPI_OK: napi_status = 0;
const NAPI_AUTO_LENGTH: usize = usize::MAX;
/// `napi_typedarray_type` values (node_api_types.h).
const NAPI_UINT8_ARRAY: c_int = 1;
const NAPI_FLOAT64_ARRAY: c_int = 8;
/// `napi_threadsafe_function_call_mode` and `_release_mode` (node_api_types.h).
const NAPI_TSFN_NONBLOCKING: c_int = 0;
const NAPI_TSFN_RELEASE: c_int = 0;
/// `napi_valuetype` of a string (js_native_api_types.h).
const NAPI_STRING: c_int = 4;

extern "C" {
    fn napi_create_function(
        env: napi_env,
        utf8name: *const c_char,
        length: usize,
        cb: napi_callback,
        data: *mut c_void,
        result: *mut napi_value,
    ) -> napi_status;
    fn napi_set_named_property(
        env: napi_env,
        object: napi_value,
        utf8name: *const c_char,
        value: napi_value,
    ) -> napi_status;
    fn napi_get_cb_info(
        env: napi_env,
        cbinfo: napi_callback_info,
        argc: *mut usize,
        argv: *mut napi_value,
        this_arg: *mut napi_value,
        data: *mut *mut c_void,
    ) -> napi_status;
    fn napi_is_array(env: napi_env, value: napi_value, result: *mut bool) -> napi_status;
    fn napi_get_array_length(env: napi_env, value: napi_value, result: *mut u32) -> napi_status;
    fn napi_get_element(env: napi_env, object: napi_value, index: u32, result: *mut napi_value) -> napi_status;
    fn napi_is_typedarray(env: napi_env, value: napi_value, result: *mut bool) -> napi_status;
    fn napi_get_typedarray_info(
        env: napi_env,
        typedarray: napi_value,
        kind: *mut c_int,
        length: *mut usize,
        data: *mut *mut c_void,
        arraybuffer: *mut napi_value,
        byte_offset: *mut usize,
    ) -> napi_status;
    fn napi_get_value_uint32(env: napi_env, value: napi_value, result: *mut u32) -> napi_status;
    fn napi_create_reference(env: napi_env, value: napi_value, initial_refcount: u32, result: *mut napi_ref) -> napi_status;
    fn napi_delete_reference(env: napi_env, reference: napi_ref) -> napi_status;
    fn napi_get_reference_value(env: napi_env, reference: napi_ref, result: *mut napi_value) -> napi_status;
    fn napi_create_promise(env: napi_env, deferred: *mut napi_deferred, promise: *mut napi_value) -> napi_status;
    fn napi_resolve_deferred(env: napi_env, deferred: napi_deferred, resolution: napi_value) -> napi_status;
    fn napi_reject_deferred(env: napi_env, deferred: napi_deferred, rejection: napi_value) -> napi_status;
    // Node-API 4.
    fn napi_create_threadsafe_function(
        env: napi_env,
        func: napi_value,
        async_resource: napi_value,
        async_resource_name: napi_value,
        max_queue_size: usize,
        initial_thread_count: usize,
        thread_finalize_data: *mut c_void,
        thread_finalize_cb: napi_finalize,
        context: *mut c_void,
        call_js_cb: napi_threadsafe_function_call_js,
        result: *mut napi_threadsafe_function,
    ) -> napi_status;
    fn napi_call_threadsafe_function(func: napi_threadsafe_function, data: *mut c_void, is_blocking: c_int) -> napi_status;
    fn napi_release_threadsafe_function(func: napi_threadsafe_function, mode: c_int) -> napi_status;
    fn napi_typeof(env: napi_env, value: napi_value, result: *mut c_int) -> napi_status;
    fn napi_get_value_string_utf8(env: napi_env, value: napi_value, buf: *mut c_char, bufsize: usize, result: *mut usize) -> napi_status;
    fn napi_get_value_double(env: napi_env, value: napi_value, result: *mut f64) -> napi_status;
    fn napi_get_boolean(env: napi_env, value: bool, result: *mut napi_value) -> napi_status;
    fn napi_get_undefined(env: napi_env, result: *mut napi_value) -> napi_status;
    fn napi_create_buffer(env: napi_env, length: usize, data: *mut *mut c_void, result: *mut napi_value) -> napi_status;
    fn napi_create_string_utf8(env: napi_env, string: *const c_char, length: usize, result: *mut napi_value) -> napi_status;
    fn napi_create_array_with_length(env: napi_env, length: usize, result: *mut napi_value) -> napi_status;
    fn napi_set_element(env: napi_env, object: napi_value, index: u32, value: napi_value) -> napi_status;
    fn napi_create_error(env: napi_env, code: napi_value, msg: napi_value, result: *mut napi_value) -> napi_status;
    fn napi_throw_error(env: napi_env, code: *const c_char, msg: *const c_char) -> napi_status;
}

// libdeflate (Debian's libdeflate.a) and the shared C core (src/pyz_deflate.c).
#[repr(C)]
struct libdeflate_compressor {
    _private: [u8; 0],
}
extern "C" {
    fn libdeflate_alloc_compressor(compression_level: c_int) -> *mut libdeflate_compressor;
    fn libdeflate_crc32(crc: u32, buffer: *const c_void, length: usize) -> u32;
    fn pyz_deflate_bound(input_length: usize) -> usize;
    fn pyz_deflate_piece(
        compressor: *mut libdeflate_compressor,
        input: *const u8,
        input_length: usize,
        output: *mut u8,
        output_capacity: usize,
        ends_stream: c_int,
    ) -> usize;
}

// SHA-256 from the OpenSSL inside Node (see the module comment).
#[cfg(unix)]
extern "C" {
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
}
/// `RTLD_DEFAULT`: search the process's global symbols (dlfcn.h; glibc and musl use 0, macOS -2).
#[cfg(target_os = "macos")]
const RTLD_DEFAULT: *mut c_void = -2isize as *mut c_void;
#[cfg(all(unix, not(target_os = "macos")))]
const RTLD_DEFAULT: *mut c_void = ptr::null_mut();
/// OpenSSL's one-shot `unsigned char *SHA256(const unsigned char *d, size_t n, unsigned char *md)`.
type Sha256Function = unsafe extern "C" fn(*const u8, usize, *mut u8) -> *mut u8;

fn sha256_function() -> Option<Sha256Function> {
    static FUNCTION: OnceLock<usize> = OnceLock::new();
    // Without dlsym (Windows) there are no file sources: JavaScript reads and hashes.
    #[cfg(unix)]
    let address = *FUNCTION.get_or_init(|| unsafe { dlsym(RTLD_DEFAULT, b"SHA256\0".as_ptr() as *const c_char) as usize });
    #[cfg(not(unix))]
    let address = *FUNCTION.get_or_init(|| 0);
    if address == 0 {
        None
    } else {
        Some(unsafe { std::mem::transmute::<usize, Sha256Function>(address) })
    }
}

/// `meta` slots per source: [offset, length, crc32, bytes read, status].
const META_STRIDE: usize = 5;
const DIGEST_LENGTH: usize = 32;
/// Status of a source. DEFLATED: output is a deflate stream; STORED (files only): deflate did not
/// shrink it, output is the file's bytes; OVERSIZE (files only): larger than `fileLimit`, no
/// output; FAILED (files only): could not be read, see `errors`.
///
/// A file larger than `pieceSize` is cut into pieces exactly as packages/core/src/compress/
/// pieces.ts cuts a buffer (every piece but the last left open, see pyz_deflate.h), the pieces
/// are deflated in parallel and joined in order, so the bytes equal those of the buffer path.
const STATUS_DEFLATED: f64 = 0.0;
const STATUS_STORED: f64 = 1.0;
const STATUS_OVERSIZE: f64 = 2.0;
const STATUS_FAILED: f64 = 3.0;

enum Source {
    /// Memory owned by a JavaScript typed array, kept alive by a reference until the call ends.
    Bytes { data: *const u8, length: usize },
    File { path: CString },
}

/// A file bigger than one piece, read and hashed, whose pieces are being deflated.
struct BigFile {
    content: Vec<u8>,
    crc: u32,
    digest: [u8; DIGEST_LENGTH],
    outputs: Mutex<Vec<Option<Result<Vec<u8>, String>>>>,
    remaining: AtomicUsize,
}

/// What a pool thread does next.
enum Work {
    /// Source `index` of the call.
    Source(usize),
    /// Piece `piece` of the big file that is source `index` of the call.
    Piece { index: usize, file: Arc<BigFile>, piece: usize },
}

struct TaskResult {
    output: Vec<u8>,
    crc: u32,
    bytes_read: usize,
    status: f64,
    digest: [u8; DIGEST_LENGTH],
    error: Option<String>,
}

/// One `deflate()` call. Worker threads fill `results`; the main thread owns the rest.
struct Call {
    sources: Vec<Source>,
    ends_stream: Vec<bool>,
    level: c_int,
    piece_size: usize,
    file_limit: usize,
    results: Mutex<Vec<Option<TaskResult>>>,
    remaining: AtomicUsize,
    main: MainThreadSide,
}

/// Node-API handles: created, used and deleted on the main thread only.
struct MainThreadSide {
    references: Vec<napi_ref>,
    meta: napi_ref,
    digests: napi_ref,
    deferred: napi_deferred,
    tsfn: napi_threadsafe_function,
}

// Raw pointers inside are either JavaScript memory pinned for the call's lifetime (read-only on
// the workers) or Node-API handles touched only on the main thread; the thread-safe function
// handle is documented as callable from any thread.
unsafe impl Send for Call {}
unsafe impl Sync for Call {}

struct Pool {
    queue: Mutex<VecDeque<(Arc<Call>, Work)>>,
    ready: Condvar,
    started: Mutex<usize>,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool { queue: Mutex::new(VecDeque::new()), ready: Condvar::new(), started: Mutex::new(0) })
}

/// Starts threads until the pool has `threads`. They live as long as the process, idle on the
/// condition variable between calls (they hold no event-loop handle, so they never keep Node up).
fn ensure_threads(threads: usize) -> Result<(), String> {
    let mut started = pool().started.lock().map_err(|_| "pool lock poisoned".to_string())?;
    while *started < threads {
        std::thread::Builder::new()
            .name(format!("pyz-deflate-{}", *started))
            .spawn(worker)
            .map_err(|error| format!("cannot start a compression thread: {error}"))?;
        *started += 1;
    }
    Ok(())
}

fn worker() {
    // One compressor per level, allocated on first use and kept (a level-12 one is ~1 MB).
    let mut compressors: [*mut libdeflate_compressor; 13] = [ptr::null_mut(); 13];
    loop {
        let (call, work) = {
            let mut queue = match pool().queue.lock() {
                Ok(queue) => queue,
                Err(poisoned) => poisoned.into_inner(),
            };
            loop {
                if let Some(item) = queue.pop_front() {
                    break item;
                }
                queue = match pool().ready.wait(queue) {
                    Ok(queue) => queue,
                    Err(poisoned) => poisoned.into_inner(),
                };
            }
        };
        let level = call.level as usize;
        if compressors[level].is_null() {
            compressors[level] = unsafe { libdeflate_alloc_compressor(call.level) };
        }
        let finished = match work {
            Work::Source(index) => run_source(compressors[level], &call, index).map(|result| (index, result)),
            Work::Piece { index, file, piece } => run_piece(compressors[level], &call, &file, piece).map(|result| (index, result)),
        };
        let Some((index, result)) = finished else { continue };
        {
            let mut results = match call.results.lock() {
                Ok(results) => results,
                Err(poisoned) => poisoned.into_inner(),
            };
            results[index] = Some(result);
        }
        if call.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            // The last source of the call: hand it to the main thread (complete_call).
            let tsfn = call.main.tsfn;
            let raw = Arc::into_raw(call) as *mut c_void;
            unsafe {
                if napi_call_threadsafe_function(tsfn, raw, NAPI_TSFN_NONBLOCKING) != NAPI_OK {
                    // Node is shutting down: nobody waits for the result any more.
                    drop(Arc::from_raw(raw as *const Call));
                }
                napi_release_threadsafe_function(tsfn, NAPI_TSFN_RELEASE);
            }
        }
    }
}

fn failed(message: String) -> TaskResult {
    TaskResult { output: Vec::new(), crc: 0, bytes_read: 0, status: STATUS_FAILED, digest: [0; DIGEST_LENGTH], error: Some(message) }
}

fn deflate_into(compressor: *mut libdeflate_compressor, input: &[u8], ends_stream: bool) -> Result<Vec<u8>, String> {
    if compressor.is_null() {
        return Err("libdeflate_alloc_compressor failed".to_string());
    }
    // A zero-length input may have a null data pointer; libdeflate reads nothing from it.
    let data = if input.is_empty() { ptr::NonNull::<u8>::dangling().as_ptr() as *const u8 } else { input.as_ptr() };
    let capacity = unsafe { pyz_deflate_bound(input.len()) };
    let mut output: Vec<u8> = Vec::with_capacity(capacity);
    let written = unsafe { pyz_deflate_piece(compressor, data, input.len(), output.as_mut_ptr(), capacity, ends_stream as c_int) };
    if written == 0 {
        return Err(format!("deflate of a {}-byte piece failed", input.len()));
    }
    unsafe { output.set_len(written) };
    Ok(output)
}

fn crc32_of(input: &[u8]) -> u32 {
    let data = if input.is_empty() { ptr::NonNull::<u8>::dangling().as_ptr() as *const u8 } else { input.as_ptr() };
    unsafe { libdeflate_crc32(0, data as *const c_void, input.len()) }
}

/// Reads at most `limit + 1` bytes (enough to tell that a file is over the limit) into a buffer
/// that grows as needed: no stat first, one open, reads and one close per small file.
fn read_file(path: &CString, limit: usize) -> std::io::Result<Vec<u8>> {
    #[cfg(unix)]
    let path = {
        use std::os::unix::ffi::OsStrExt;
        std::path::Path::new(std::ffi::OsStr::from_bytes(path.as_bytes()))
    };
    // Elsewhere paths are Unicode; JavaScript handed over UTF-8.
    #[cfg(not(unix))]
    let path = std::path::Path::new(path.to_str().map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidInput, error))?);
    let file = std::fs::File::open(path)?;
    let mut content = Vec::with_capacity(64 * 1024);
    file.take(limit as u64 + 1).read_to_end(&mut content)?;
    Ok(content)
}

/// Words a read failure the way node:fs does ("EACCES: permission denied, open '…'"), so the
/// message is the same whichever backend read the file.
fn read_error_message(error: &std::io::Error, path: &CString) -> String {
    let code = match error.kind() {
        std::io::ErrorKind::NotFound => Some(("ENOENT", "no such file or directory")),
        std::io::ErrorKind::PermissionDenied => Some(("EACCES", "permission denied")),
        _ => None,
    };
    match code {
        Some((code, text)) => format!("{code}: {text}, open '{}'", path.to_string_lossy()),
        None => format!("{error}, open '{}'", path.to_string_lossy()),
    }
}

fn sha256_of(content: &[u8]) -> Option<[u8; DIGEST_LENGTH]> {
    let sha256 = sha256_function()?;
    let mut digest = [0u8; DIGEST_LENGTH];
    unsafe { sha256(if content.is_empty() { b"".as_ptr() } else { content.as_ptr() }, content.len(), digest.as_mut_ptr()) };
    Some(digest)
}

/// SPEC §4: an entry that deflate does not shrink is stored. `content` is asked for only then, so
/// a big file shared by its pieces is copied only when it is stored.
fn deflated_or_stored(output: Vec<u8>, length: usize, content: impl FnOnce() -> Vec<u8>, crc: u32, digest: [u8; DIGEST_LENGTH]) -> TaskResult {
    if output.len() < length {
        TaskResult { output, crc, bytes_read: length, status: STATUS_DEFLATED, digest, error: None }
    } else {
        TaskResult { bytes_read: length, output: content(), crc, status: STATUS_STORED, digest, error: None }
    }
}

/// Runs one source. None: the source became piece work, and its last piece reports it.
fn run_source(compressor: *mut libdeflate_compressor, call: &Arc<Call>, index: usize) -> Option<TaskResult> {
    let ends_stream = call.ends_stream[index];
    let path = match &call.sources[index] {
        Source::Bytes { data, length } => {
            let input: &[u8] = if *length == 0 { &[] } else { unsafe { std::slice::from_raw_parts(*data, *length) } };
            return Some(match deflate_into(compressor, input, ends_stream) {
                Ok(output) => TaskResult { crc: crc32_of(input), bytes_read: input.len(), status: STATUS_DEFLATED, output, digest: [0; DIGEST_LENGTH], error: None },
                Err(message) => failed(message),
            });
        }
        Source::File { path } => path,
    };
    let content = match read_file(path, call.file_limit) {
        Ok(content) => content,
        Err(error) => return Some(failed(read_error_message(&error, path))),
    };
    if content.len() > call.file_limit {
        return Some(TaskResult { output: Vec::new(), crc: 0, bytes_read: content.len(), status: STATUS_OVERSIZE, digest: [0; DIGEST_LENGTH], error: None });
    }
    let Some(digest) = sha256_of(&content) else { return Some(failed("SHA256 is not available in this Node".to_string())) };
    let crc = crc32_of(&content);
    if content.len() <= call.piece_size {
        return Some(match deflate_into(compressor, &content, true) {
            Ok(output) => deflated_or_stored(output, content.len(), move || content, crc, digest),
            Err(message) => failed(message),
        });
    }
    // Cut like planPieces() in pieces.ts; the pieces go to the front of the queue so this file is
    // finished before later sources start (its entry is the next one to be written).
    let pieces = content.len().div_ceil(call.piece_size);
    let file = Arc::new(BigFile { content, crc, digest, outputs: Mutex::new((0..pieces).map(|_| None).collect()), remaining: AtomicUsize::new(pieces) });
    {
        let mut queue = match pool().queue.lock() {
            Ok(queue) => queue,
            Err(poisoned) => poisoned.into_inner(),
        };
        for piece in (0..pieces).rev() {
            queue.push_front((Arc::clone(call), Work::Piece { index, file: Arc::clone(&file), piece }));
        }
    }
    pool().ready.notify_all();
    None
}

/// Deflates one piece of a big file. Some: it was the file's last piece, here is the file's result.
fn run_piece(compressor: *mut libdeflate_compressor, call: &Call, file: &Arc<BigFile>, piece: usize) -> Option<TaskResult> {
    let start = piece * call.piece_size;
    let end = (start + call.piece_size).min(file.content.len());
    let output = deflate_into(compressor, &file.content[start..end], end == file.content.len());
    {
        let mut outputs = match file.outputs.lock() {
            Ok(outputs) => outputs,
            Err(poisoned) => poisoned.into_inner(),
        };
        outputs[piece] = Some(output);
    }
    if file.remaining.fetch_sub(1, Ordering::AcqRel) != 1 {
        return None;
    }
    let outputs = match file.outputs.lock() {
        Ok(mut outputs) => std::mem::take(&mut *outputs),
        Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
    };
    let mut joined: Vec<u8> = Vec::with_capacity(outputs.iter().map(|output| output.as_ref().map_or(0, |output| output.as_ref().map_or(0, Vec::len))).sum());
    for output in outputs {
        match output {
            Some(Ok(bytes)) => joined.extend_from_slice(&bytes),
            Some(Err(message)) => return Some(failed(message)),
            None => return Some(failed("a piece was never deflated".to_string())),
        }
    }
    Some(deflated_or_stored(joined, file.content.len(), || file.content.clone(), file.crc, file.digest))
}

unsafe fn create_error(env: napi_env, message: &str) -> napi_value {
    let mut code: napi_value = ptr::null_mut();
    let mut text: napi_value = ptr::null_mut();
    let mut error: napi_value = ptr::null_mut();
    let code_text = "PYZ_NATIVE_FAILED";
    napi_create_string_utf8(env, code_text.as_ptr() as *const c_char, code_text.len(), &mut code);
    napi_create_string_utf8(env, message.as_ptr() as *const c_char, message.len(), &mut text);
    napi_create_error(env, code, text, &mut error);
    error
}

unsafe fn typed_array_of(env: napi_env, reference: napi_ref, expected: c_int) -> Option<(*mut c_void, usize)> {
    let mut value: napi_value = ptr::null_mut();
    if napi_get_reference_value(env, reference, &mut value) != NAPI_OK {
        return None;
    }
    typed_array(env, value, expected)
}

/// Builds the resolution value: [output Buffer, errors or undefined]; fills `meta` and `digests`.
unsafe fn build_result(env: napi_env, call: &Call, results: &[Option<TaskResult>]) -> Result<napi_value, String> {
    let count = call.sources.len();
    let (Some((meta, meta_length)), Some((digests, digests_length))) =
        (typed_array_of(env, call.main.meta, NAPI_FLOAT64_ARRAY), typed_array_of(env, call.main.digests, NAPI_UINT8_ARRAY))
    else {
        return Err("meta or digests is no longer a typed array".to_string());
    };
    if meta_length < count * META_STRIDE || digests_length < count * DIGEST_LENGTH {
        return Err("meta or digests is too short".to_string());
    }
    let meta = std::slice::from_raw_parts_mut(meta as *mut f64, count * META_STRIDE);
    let digests = std::slice::from_raw_parts_mut(digests as *mut u8, count * DIGEST_LENGTH);
    let total: usize = results.iter().map(|result| result.as_ref().map_or(0, |result| result.output.len())).sum();
    let mut buffer: napi_value = ptr::null_mut();
    let mut buffer_data: *mut c_void = ptr::null_mut();
    if napi_create_buffer(env, total, &mut buffer_data, &mut buffer) != NAPI_OK {
        return Err(format!("cannot create a Buffer of {total} bytes"));
    }
    let mut errors: napi_value = ptr::null_mut();
    let mut offset = 0usize;
    for (index, result) in results.iter().enumerate() {
        let Some(result) = result else { return Err(format!("source {index} was never processed")) };
        if !result.output.is_empty() {
            ptr::copy_nonoverlapping(result.output.as_ptr(), (buffer_data as *mut u8).add(offset), result.output.len());
        }
        let slot = &mut meta[index * META_STRIDE..(index + 1) * META_STRIDE];
        slot.copy_from_slice(&[offset as f64, result.output.len() as f64, result.crc as f64, result.bytes_read as f64, result.status]);
        digests[index * DIGEST_LENGTH..(index + 1) * DIGEST_LENGTH].copy_from_slice(&result.digest);
        offset += result.output.len();
        if let Some(message) = &result.error {
            if matches!(call.sources[index], Source::Bytes { .. }) {
                // Compressing memory cannot fail but for a bug or exhausted memory: fail the call.
                return Err(message.clone());
            }
            if errors.is_null() && napi_create_array_with_length(env, count, &mut errors) != NAPI_OK {
                return Err("cannot create the errors array".to_string());
            }
            let mut text: napi_value = ptr::null_mut();
            napi_create_string_utf8(env, message.as_ptr() as *const c_char, message.len(), &mut text);
            napi_set_element(env, errors, index as u32, text);
        }
    }
    if errors.is_null() {
        napi_get_undefined(env, &mut errors);
    }
    let mut pair: napi_value = ptr::null_mut();
    if napi_create_array_with_length(env, 2, &mut pair) != NAPI_OK
        || napi_set_element(env, pair, 0, buffer) != NAPI_OK
        || napi_set_element(env, pair, 1, errors) != NAPI_OK
    {
        return Err("cannot create the result".to_string());
    }
    Ok(pair)
}

/// Runs on the main thread (thread-safe function) once every source of a call is done.
unsafe extern "C" fn complete_call(env: napi_env, _callback: napi_value, _context: *mut c_void, data: *mut c_void) {
    let call = Arc::from_raw(data as *const Call);
    if env.is_null() {
        return; // the environment is being torn down
    }
    let results: Vec<Option<TaskResult>> = match call.results.lock() {
        Ok(mut results) => std::mem::take(&mut *results),
        Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
    };
    match build_result(env, &call, &results) {
        Ok(value) => napi_resolve_deferred(env, call.main.deferred, value),
        Err(message) => napi_reject_deferred(env, call.main.deferred, create_error(env, &message)),
    };
    release(env, &call.main.references);
}

unsafe fn throw(env: napi_env, message: &str) -> napi_value {
    let mut text = message.as_bytes().to_vec();
    text.push(0);
    napi_throw_error(env, b"ERR_INVALID_ARG_TYPE\0".as_ptr() as *const c_char, text.as_ptr() as *const c_char);
    ptr::null_mut()
}

unsafe fn typed_array(env: napi_env, value: napi_value, expected: c_int) -> Option<(*mut c_void, usize)> {
    let mut is_typed_array = false;
    if napi_is_typedarray(env, value, &mut is_typed_array) != NAPI_OK || !is_typed_array {
        return None;
    }
    let mut kind: c_int = -1;
    let mut length: usize = 0;
    let mut data: *mut c_void = ptr::null_mut();
    if napi_get_typedarray_info(env, value, &mut kind, &mut length, &mut data, ptr::null_mut(), ptr::null_mut()) != NAPI_OK
        || kind != expected
    {
        return None;
    }
    Some((data, length))
}

unsafe fn release(env: napi_env, references: &[napi_ref]) {
    for reference in references {
        napi_delete_reference(env, *reference);
    }
}

unsafe fn string_of(env: napi_env, value: napi_value) -> Option<CString> {
    let mut length: usize = 0;
    if napi_get_value_string_utf8(env, value, ptr::null_mut(), 0, &mut length) != NAPI_OK {
        return None;
    }
    let mut bytes: Vec<u8> = vec![0; length + 1];
    let mut written: usize = 0;
    if napi_get_value_string_utf8(env, value, bytes.as_mut_ptr() as *mut c_char, length + 1, &mut written) != NAPI_OK {
        return None;
    }
    bytes.truncate(written);
    CString::new(bytes).ok() // a path with a NUL byte cannot name a file
}

/// Pins `value` for the duration of the call.
unsafe fn pin(env: napi_env, value: napi_value, references: &mut Vec<napi_ref>) -> Option<napi_ref> {
    let mut reference: napi_ref = ptr::null_mut();
    if napi_create_reference(env, value, 1, &mut reference) != NAPI_OK {
        return None;
    }
    references.push(reference);
    Some(reference)
}

unsafe extern "C" fn js_deflate(env: napi_env, info: napi_callback_info) -> napi_value {
    const USAGE: &str = "deflate(sources, endsStream, level, threads, pieceSize, fileLimit, meta, digests) takes 8 arguments";
    let mut argc: usize = 8;
    let mut argv: [napi_value; 8] = [ptr::null_mut(); 8];
    if napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), ptr::null_mut()) != NAPI_OK || argc < 8 {
        return throw(env, USAGE);
    }
    let [sources_value, ends_value, level_value, threads_value, piece_value, limit_value, meta_value, digests_value] = argv;
    let mut is_array = false;
    let mut count: u32 = 0;
    if napi_is_array(env, sources_value, &mut is_array) != NAPI_OK || !is_array || napi_get_array_length(env, sources_value, &mut count) != NAPI_OK {
        return throw(env, "sources must be an array of Uint8Array or string");
    }
    let count = count as usize;
    let Some((ends_data, ends_length)) = typed_array(env, ends_value, NAPI_UINT8_ARRAY) else {
        return throw(env, "endsStream must be a Uint8Array");
    };
    if ends_length != count {
        return throw(env, "endsStream must have one flag per source");
    }
    let (Some((_, meta_length)), Some((_, digests_length))) = (typed_array(env, meta_value, NAPI_FLOAT64_ARRAY), typed_array(env, digests_value, NAPI_UINT8_ARRAY)) else {
        return throw(env, "meta must be a Float64Array and digests a Uint8Array");
    };
    if meta_length != count * META_STRIDE || digests_length != count * DIGEST_LENGTH {
        return throw(env, "meta needs 5 slots and digests 32 bytes per source");
    }
    let mut level: u32 = 0;
    let mut threads: u32 = 0;
    let mut file_limit: f64 = 0.0;
    let mut piece_size: u32 = 0;
    if napi_get_value_uint32(env, level_value, &mut level) != NAPI_OK || !(1..=12).contains(&level) {
        return throw(env, "level must be an integer from 1 to 12");
    }
    if napi_get_value_uint32(env, threads_value, &mut threads) != NAPI_OK || threads == 0 {
        return throw(env, "threads must be a positive integer");
    }
    if napi_get_value_uint32(env, piece_value, &mut piece_size) != NAPI_OK || piece_size == 0 {
        return throw(env, "pieceSize must be a positive integer");
    }
    if napi_get_value_double(env, limit_value, &mut file_limit) != NAPI_OK || !(file_limit >= 0.0 && file_limit < 1e15) {
        return throw(env, "fileLimit must be a byte count");
    }
    let ends: Vec<bool> = std::slice::from_raw_parts(ends_data as *const u8, count).iter().map(|&flag| flag != 0).collect();
    let mut references: Vec<napi_ref> = Vec::with_capacity(count + 2);
    let mut sources: Vec<Source> = Vec::with_capacity(count);
    for index in 0..count {
        let mut element: napi_value = ptr::null_mut();
        let mut kind: c_int = -1;
        if napi_get_element(env, sources_value, index as u32, &mut element) != NAPI_OK || napi_typeof(env, element, &mut kind) != NAPI_OK {
            release(env, &references);
            return throw(env, "cannot read sources");
        }
        if kind == NAPI_STRING {
            if sha256_function().is_none() {
                release(env, &references);
                return throw(env, "file sources need SHA256 from Node's OpenSSL, which this Node does not export (fileTasks is false)");
            }
            let Some(path) = string_of(env, element) else {
                release(env, &references);
                return throw(env, &format!("sources[{index}] is not a usable path"));
            };
            sources.push(Source::File { path });
            continue;
        }
        let Some((data, length)) = typed_array(env, element, NAPI_UINT8_ARRAY) else {
            release(env, &references);
            return throw(env, &format!("sources[{index}] must be a Uint8Array or a path"));
        };
        if pin(env, element, &mut references).is_none() {
            release(env, &references);
            return throw(env, "cannot reference a source");
        }
        sources.push(Source::Bytes { data: data as *const u8, length });
    }
    let (Some(meta), Some(digests)) = (pin(env, meta_value, &mut references), pin(env, digests_value, &mut references)) else {
        release(env, &references);
        return throw(env, "cannot reference meta or digests");
    };
    let mut deferred: napi_deferred = ptr::null_mut();
    let mut promise: napi_value = ptr::null_mut();
    if napi_create_promise(env, &mut deferred, &mut promise) != NAPI_OK {
        release(env, &references);
        return throw(env, "cannot create a promise");
    }
    if count == 0 {
        let call = Call { sources, ends_stream: ends, level: level as c_int, piece_size: piece_size as usize, file_limit: file_limit as usize, results: Mutex::new(Vec::new()), remaining: AtomicUsize::new(0), main: MainThreadSide { references, meta, digests, deferred, tsfn: ptr::null_mut() } };
        match build_result(env, &call, &[]) {
            Ok(value) => napi_resolve_deferred(env, deferred, value),
            Err(message) => napi_reject_deferred(env, deferred, create_error(env, &message)),
        };
        release(env, &call.main.references);
        return promise;
    }
    if let Err(message) = ensure_threads(threads as usize) {
        release(env, &references);
        napi_reject_deferred(env, deferred, create_error(env, &message));
        return promise;
    }
    let mut name: napi_value = ptr::null_mut();
    let name_text = "pyz:deflate";
    let mut tsfn: napi_threadsafe_function = ptr::null_mut();
    if napi_create_string_utf8(env, name_text.as_ptr() as *const c_char, name_text.len(), &mut name) != NAPI_OK
        || napi_create_threadsafe_function(env, ptr::null_mut(), ptr::null_mut(), name, 0, 1, ptr::null_mut(), None, ptr::null_mut(), Some(complete_call), &mut tsfn)
            != NAPI_OK
    {
        release(env, &references);
        napi_reject_deferred(env, deferred, create_error(env, "cannot create a thread-safe function"));
        return promise;
    }
    let call = Arc::new(Call {
        sources,
        ends_stream: ends,
        level: level as c_int,
        piece_size: piece_size as usize,
        file_limit: file_limit as usize,
        results: Mutex::new((0..count).map(|_| None).collect()),
        remaining: AtomicUsize::new(count),
        main: MainThreadSide { references, meta, digests, deferred, tsfn },
    });
    {
        let mut queue = match pool().queue.lock() {
            Ok(queue) => queue,
            Err(poisoned) => poisoned.into_inner(),
        };
        for index in 0..count {
            queue.push_back((Arc::clone(&call), Work::Source(index)));
        }
    }
    pool().ready.notify_all();
    promise
}

/// Why the fast walk gave up: the JavaScript walker then walks the tree itself, with its rules
/// for links and names and its errors (packages/core/src/files.ts is the reference).
struct NotSimple;

/// Threads listing a tree at most (a walk is kernel work on cached directory entries: it scales
/// with cores; a site-packages holds thousands of directories, 70,000 files for the largest).
const MAX_WALK_THREADS: usize = 4;

/// Directories still to list, shared by the walk's threads.
struct WalkQueue {
    directories: Vec<(std::path::PathBuf, String)>,
    /// Threads listing a directory now (they may add more).
    busy: usize,
    failed: bool,
}

/// Lists the regular files below `root` like files.ts's walker, as long as the tree is simple:
/// only directories and regular files (links, sockets, FIFOs and devices are left to JavaScript,
/// as are names that are not UTF-8 and any error). Entry types come from readdir (d_type), so a
/// directory costs no stat; a file costs one lstat, relative to its open directory
/// (DirEntry::metadata). Threads take directories from one queue; the paths come in no
/// particular order (files.ts sorts them). Returns ('\0'-separated relative paths, 7 stats per file).
#[cfg(unix)]
fn walk_simple(root: &std::path::Path) -> Result<(String, Vec<f64>), NotSimple> {
    let shared = (Mutex::new(WalkQueue { directories: vec![(root.to_path_buf(), String::new())], busy: 0, failed: false }), Condvar::new());
    let threads = std::thread::available_parallelism().map_or(1, |count| count.get()).clamp(1, MAX_WALK_THREADS);
    let parts: Vec<Result<(String, Vec<f64>), NotSimple>> = std::thread::scope(|scope| {
        // The calling thread walks too; a helper that cannot be started (a pids limit) is just
        // one helper fewer (scope.spawn would panic, and a panic aborts the addon's process).
        let helpers: Vec<_> = (1..threads).filter_map(|_| std::thread::Builder::new().spawn_scoped(scope, || walk_worker(&shared)).ok()).collect();
        let mut parts = vec![walk_worker(&shared)];
        parts.extend(helpers.into_iter().map(|helper| helper.join().unwrap_or(Err(NotSimple))));
        parts
    });
    let (mut paths, mut stats) = (String::new(), Vec::<f64>::new());
    for part in parts {
        let (part_paths, part_stats) = part?;
        if part_paths.is_empty() {
            continue;
        }
        if !paths.is_empty() {
            paths.push('\0');
        }
        paths.push_str(&part_paths);
        stats.extend_from_slice(&part_stats);
    }
    Ok((paths, stats))
}

/// One walk thread: lists directories from the queue until it is empty and no thread can add
/// to it any more, or until a thread finds the tree not simple.
#[cfg(unix)]
fn walk_worker(shared: &(Mutex<WalkQueue>, Condvar)) -> Result<(String, Vec<f64>), NotSimple> {
    let (lock, changed) = shared;
    let (mut paths, mut stats) = (String::new(), Vec::<f64>::new());
    loop {
        let (directory, relative) = {
            let mut queue = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            loop {
                if queue.failed {
                    return Err(NotSimple);
                }
                if let Some(next) = queue.directories.pop() {
                    queue.busy += 1;
                    break next;
                }
                if queue.busy == 0 {
                    return Ok((paths, stats));
                }
                queue = changed.wait(queue).unwrap_or_else(|poisoned| poisoned.into_inner());
            }
        };
        let mut found = Vec::new();
        let listed = list_directory(&directory, &relative, &mut paths, &mut stats, &mut found);
        let mut queue = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        queue.busy -= 1;
        match listed {
            Ok(()) => queue.directories.extend(found),
            Err(NotSimple) => queue.failed = true,
        }
        changed.notify_all();
    }
}

/// One directory of the walk: its regular files go to `paths`/`stats`, its subdirectories to
/// `found`.
#[cfg(unix)]
fn list_directory(directory: &std::path::Path, relative: &str, paths: &mut String, stats: &mut Vec<f64>, found: &mut Vec<(std::path::PathBuf, String)>) -> Result<(), NotSimple> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    for entry in std::fs::read_dir(directory).map_err(|_| NotSimple)? {
        let entry = entry.map_err(|_| NotSimple)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { return Err(NotSimple) };
        // files.ts: isExcluded (SPEC §2, §4: no .pyc, no __pycache__).
        if name == "__pycache__" || name.ends_with(".pyc") || name.ends_with(".pyo") {
            continue;
        }
        let kind = entry.file_type().map_err(|_| NotSimple)?;
        let child = if relative.is_empty() { name.to_owned() } else { format!("{relative}/{name}") };
        if kind.is_dir() {
            found.push((entry.path(), child));
        } else if kind.is_file() {
            let metadata = entry.metadata().map_err(|_| NotSimple)?;
            if !metadata.file_type().is_file() {
                return Err(NotSimple); // replaced while we looked
            }
            if !paths.is_empty() {
                paths.push('\0');
            }
            paths.push_str(&child);
            stats.extend_from_slice(&[
                metadata.size() as f64,
                (metadata.mode() & 0o7777) as f64,
                metadata.mtime() as f64,
                metadata.mtime_nsec() as f64,
                metadata.ctime() as f64,
                metadata.ctime_nsec() as f64,
                metadata.ino() as f64,
            ]);
        } else if kind.is_symlink() {
            return Err(NotSimple);
        } else if !(kind.is_fifo() || kind.is_socket() || kind.is_block_device() || kind.is_char_device()) {
            return Err(NotSimple); // a type readdir does not know: let lstat decide in JavaScript
        }
    }
    Ok(())
}

/// `walk(root): [paths: string ('\0'-separated, relative, '/'), stats: Buffer (Float64 x 7 per
/// file)] | undefined` — undefined when the tree is not simple (see walk_simple).
unsafe extern "C" fn js_walk(env: napi_env, info: napi_callback_info) -> napi_value {
    let mut argc: usize = 1;
    let mut argv: [napi_value; 1] = [ptr::null_mut(); 1];
    if napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), ptr::null_mut()) != NAPI_OK || argc < 1 {
        return throw(env, "walk(root) takes 1 argument");
    }
    let mut undefined: napi_value = ptr::null_mut();
    napi_get_undefined(env, &mut undefined);
    let Some(root) = string_of(env, argv[0]) else { return undefined };
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let root = std::path::Path::new(std::ffi::OsStr::from_bytes(root.as_bytes()));
        let Ok((paths, stats)) = walk_simple(root) else { return undefined };
        let mut text: napi_value = ptr::null_mut();
        let mut buffer: napi_value = ptr::null_mut();
        let mut data: *mut c_void = ptr::null_mut();
        let mut pair: napi_value = ptr::null_mut();
        let bytes = stats.len() * 8;
        if napi_create_string_utf8(env, paths.as_ptr() as *const c_char, paths.len(), &mut text) != NAPI_OK
            || napi_create_buffer(env, bytes, &mut data, &mut buffer) != NAPI_OK
            || napi_create_array_with_length(env, 2, &mut pair) != NAPI_OK
        {
            return undefined;
        }
        if bytes > 0 {
            ptr::copy_nonoverlapping(stats.as_ptr() as *const u8, data as *mut u8, bytes);
        }
        napi_set_element(env, pair, 0, text);
        napi_set_element(env, pair, 1, buffer);
        return pair;
    }
    #[cfg(not(unix))]
    {
        let _ = root;
        undefined
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" {
    fn mallopt(param: c_int, value: c_int) -> c_int;
}

/// Keeps peak memory flat as archives grow. A build allocates and frees many buffers of 1-64 MiB
/// (files, pieces, results). glibc serves those with mmap, but after the first such free it
/// raises its mmap threshold to that size (malloc(3), "M_MMAP_THRESHOLD": dynamic adjustment), so
/// later big buffers come from the heap, whose freed memory stays in the process: measured, peak
/// RSS then grew from 147 to 200 MiB between an 83 MB and a 234 MB site-packages. Setting the
/// threshold explicitly, to glibc's own initial 128 KiB, turns the adjustment off: big buffers go
/// back to the system when freed. It applies to the whole process (also Node's own buffers), the
/// cost is an mmap/munmap pair per buffer of 128 KiB or more.
fn keep_big_allocations_mapped() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        const M_MMAP_THRESHOLD: c_int = -3;
        mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    }
}

/// Entry point Node looks up in an addon that does not call napi_module_register.
#[no_mangle]
pub unsafe extern "C" fn napi_register_module_v1(env: napi_env, exports: napi_value) -> napi_value {
    keep_big_allocations_mapped();
    let mut function: napi_value = ptr::null_mut();
    let mut file_tasks: napi_value = ptr::null_mut();
    if napi_create_function(env, b"deflate\0".as_ptr() as *const c_char, NAPI_AUTO_LENGTH, Some(js_deflate), ptr::null_mut(), &mut function) != NAPI_OK
        || napi_set_named_property(env, exports, b"deflate\0".as_ptr() as *const c_char, function) != NAPI_OK
        || napi_get_boolean(env, sha256_function().is_some(), &mut file_tasks) != NAPI_OK
        || napi_set_named_property(env, exports, b"fileTasks\0".as_ptr() as *const c_char, file_tasks) != NAPI_OK
    {
        throw(env, "pyz-native: cannot register deflate");
    }
    let mut walk: napi_value = ptr::null_mut();
    if napi_create_function(env, b"walk\0".as_ptr() as *const c_char, NAPI_AUTO_LENGTH, Some(js_walk), ptr::null_mut(), &mut walk) != NAPI_OK
        || napi_set_named_property(env, exports, b"walk\0".as_ptr() as *const c_char, walk) != NAPI_OK
    {
        throw(env, "pyz-native: cannot register walk");
    }
    exports
}
