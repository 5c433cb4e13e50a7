//! pyz's Node-API addon: libdeflate on native threads, without any crate.
//!
//! JavaScript sees one function (wrapped by packages/core/src/compress/native.ts):
//!
//! ```text
//! deflatePieces(inputs: Uint8Array[], endsStream: Uint8Array, level: number, threads: number,
//!               crcOut: Uint32Array): Promise<Buffer[]>
//! ```
//!
//! Piece `i` is deflated with src/pyz_deflate.c (`endsStream[i] != 0`: a complete stream,
//! otherwise left open for the next piece) and `crcOut[i]` receives its CRC-32. The work runs as
//! Node-API async work: its execute callback (on a libuv thread) fans out to `threads` scoped
//! std threads that take pieces largest-first from a shared counter, so the event loop never
//! waits and a big piece starts before the small ones that fill in around it.
//!
//! The Node-API functions are declared by hand below (signatures from node_api.h, stable since
//! Node-API 1-3); they resolve against the node binary when the addon is loaded.
#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_int, c_void};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};

type napi_env = *mut c_void;
type napi_value = *mut c_void;
type napi_callback_info = *mut c_void;
type napi_deferred = *mut c_void;
type napi_async_work = *mut c_void;
type napi_ref = *mut c_void;
type napi_status = c_int;
type napi_callback = Option<unsafe extern "C" fn(napi_env, napi_callback_info) -> napi_value>;
type napi_async_execute_callback = Option<unsafe extern "C" fn(napi_env, *mut c_void)>;
type napi_async_complete_callback = Option<unsafe extern "C" fn(napi_env, napi_status, *mut c_void)>;

const NAPI_OK: napi_status = 0;
const NAPI_AUTO_LENGTH: usize = usize::MAX;
/// `napi_typedarray_type` values (node_api_types.h).
const NAPI_UINT8_ARRAY: c_int = 1;
const NAPI_UINT32_ARRAY: c_int = 6;

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
    fn napi_create_async_work(
        env: napi_env,
        async_resource: napi_value,
        async_resource_name: napi_value,
        execute: napi_async_execute_callback,
        complete: napi_async_complete_callback,
        data: *mut c_void,
        result: *mut napi_async_work,
    ) -> napi_status;
    fn napi_queue_async_work(env: napi_env, work: napi_async_work) -> napi_status;
    fn napi_delete_async_work(env: napi_env, work: napi_async_work) -> napi_status;
    fn napi_create_string_utf8(env: napi_env, string: *const c_char, length: usize, result: *mut napi_value) -> napi_status;
    fn napi_create_array_with_length(env: napi_env, length: usize, result: *mut napi_value) -> napi_status;
    fn napi_set_element(env: napi_env, object: napi_value, index: u32, value: napi_value) -> napi_status;
    fn napi_create_buffer_copy(
        env: napi_env,
        length: usize,
        data: *const c_void,
        result_data: *mut *mut c_void,
        result: *mut napi_value,
    ) -> napi_status;
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
    fn libdeflate_free_compressor(compressor: *mut libdeflate_compressor);
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

/// One piece to deflate: memory owned by a JavaScript typed array kept alive by a reference.
#[derive(Clone, Copy)]
struct Piece {
    data: *const u8,
    length: usize,
    ends_stream: bool,
}

struct Job {
    pieces: Vec<Piece>,
    level: c_int,
    threads: usize,
    /// References that keep every input and `crcOut` alive until `complete` runs.
    references: Vec<napi_ref>,
    crc_out: napi_ref,
    deferred: napi_deferred,
    work: napi_async_work,
    outputs: Vec<Vec<u8>>,
    crcs: Vec<u32>,
    error: Option<String>,
}

/// Raw pointers cross to the worker threads; the typed arrays they point into are pinned by
/// references and not touched by JavaScript's side of this API until the promise settles.
struct SendPieces<'a>(&'a [Piece]);
unsafe impl Sync for SendPieces<'_> {}

struct CompressorGuard(*mut libdeflate_compressor);
impl Drop for CompressorGuard {
    fn drop(&mut self) {
        if !self.0.is_null() {
            unsafe { libdeflate_free_compressor(self.0) };
        }
    }
}

type PieceResult = (usize, Result<(Vec<u8>, u32), String>);

fn deflate_pieces(pieces: &[Piece], level: c_int, threads: usize) -> Result<(Vec<Vec<u8>>, Vec<u32>), String> {
    // Largest first (ties by index, so the schedule is deterministic; the bytes never depend on it).
    let mut order: Vec<usize> = (0..pieces.len()).collect();
    order.sort_by(|&a, &b| pieces[b].length.cmp(&pieces[a].length).then(a.cmp(&b)));
    let next = AtomicUsize::new(0);
    let shared = SendPieces(pieces);
    let worker_count = threads.clamp(1, pieces.len().max(1));
    let mut results: Vec<PieceResult> = Vec::with_capacity(pieces.len());
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..worker_count)
            .map(|_| {
                let (order, next, shared) = (&order, &next, &shared);
                scope.spawn(move || {
                    let mut done: Vec<PieceResult> = Vec::new();
                    let compressor = CompressorGuard(unsafe { libdeflate_alloc_compressor(level) });
                    loop {
                        let position = next.fetch_add(1, Ordering::Relaxed);
                        if position >= order.len() {
                            break;
                        }
                        let index = order[position];
                        if compressor.0.is_null() {
                            done.push((index, Err(format!("libdeflate_alloc_compressor({level}) failed"))));
                            continue;
                        }
                        done.push((index, deflate_one(compressor.0, &shared.0[index])));
                    }
                    done
                })
            })
            .collect();
        for handle in handles {
            match handle.join() {
                Ok(done) => results.extend(done),
                Err(_) => results.push((usize::MAX, Err("a compression thread panicked".to_string()))),
            }
        }
    });
    let mut outputs: Vec<Vec<u8>> = (0..pieces.len()).map(|_| Vec::new()).collect();
    let mut crcs = vec![0u32; pieces.len()];
    for (index, result) in results {
        let (output, crc) = result?;
        outputs[index] = output;
        crcs[index] = crc;
    }
    Ok((outputs, crcs))
}

fn deflate_one(compressor: *mut libdeflate_compressor, piece: &Piece) -> Result<(Vec<u8>, u32), String> {
    // A zero-length typed array may have a null data pointer; libdeflate reads nothing from it.
    let input = if piece.data.is_null() { ptr::NonNull::<u8>::dangling().as_ptr() as *const u8 } else { piece.data };
    let capacity = unsafe { pyz_deflate_bound(piece.length) };
    let mut output: Vec<u8> = Vec::with_capacity(capacity);
    let written = unsafe {
        pyz_deflate_piece(compressor, input, piece.length, output.as_mut_ptr(), capacity, piece.ends_stream as c_int)
    };
    if written == 0 {
        return Err(format!("deflate of a {}-byte piece failed", piece.length));
    }
    unsafe { output.set_len(written) };
    let crc = unsafe { libdeflate_crc32(0, input as *const c_void, piece.length) };
    Ok((output, crc))
}

unsafe extern "C" fn execute(_env: napi_env, data: *mut c_void) {
    let job = &mut *(data as *mut Job);
    match deflate_pieces(&job.pieces, job.level, job.threads) {
        Ok((outputs, crcs)) => {
            job.outputs = outputs;
            job.crcs = crcs;
        }
        Err(message) => job.error = Some(message),
    }
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

/// Builds the resolution value (an array of Buffers, CRCs written into `crcOut`).
unsafe fn build_result(env: napi_env, job: &Job) -> Result<napi_value, String> {
    let mut crc_array: napi_value = ptr::null_mut();
    let mut kind: c_int = 0;
    let mut length: usize = 0;
    let mut crc_data: *mut c_void = ptr::null_mut();
    if napi_get_reference_value(env, job.crc_out, &mut crc_array) != NAPI_OK
        || napi_get_typedarray_info(env, crc_array, &mut kind, &mut length, &mut crc_data, ptr::null_mut(), ptr::null_mut())
            != NAPI_OK
        || kind != NAPI_UINT32_ARRAY
        || length < job.crcs.len()
    {
        return Err("crcOut is no longer a Uint32Array of the right length".to_string());
    }
    ptr::copy_nonoverlapping(job.crcs.as_ptr(), crc_data as *mut u32, job.crcs.len());
    let mut array: napi_value = ptr::null_mut();
    if napi_create_array_with_length(env, job.outputs.len(), &mut array) != NAPI_OK {
        return Err("cannot create the result array".to_string());
    }
    for (index, output) in job.outputs.iter().enumerate() {
        let mut buffer: napi_value = ptr::null_mut();
        if napi_create_buffer_copy(env, output.len(), output.as_ptr() as *const c_void, ptr::null_mut(), &mut buffer) != NAPI_OK
            || napi_set_element(env, array, index as u32, buffer) != NAPI_OK
        {
            return Err(format!("cannot create a Buffer of {} bytes", output.len()));
        }
    }
    Ok(array)
}

unsafe extern "C" fn complete(env: napi_env, status: napi_status, data: *mut c_void) {
    let job = Box::from_raw(data as *mut Job);
    let outcome = if status != NAPI_OK {
        Err(format!("async work ended with napi_status {status}"))
    } else if let Some(message) = &job.error {
        Err(message.clone())
    } else {
        build_result(env, &job)
    };
    match outcome {
        Ok(value) => napi_resolve_deferred(env, job.deferred, value),
        Err(message) => napi_reject_deferred(env, job.deferred, create_error(env, &message)),
    };
    for reference in &job.references {
        napi_delete_reference(env, *reference);
    }
    napi_delete_async_work(env, job.work);
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

unsafe extern "C" fn js_deflate_pieces(env: napi_env, info: napi_callback_info) -> napi_value {
    let mut argc: usize = 5;
    let mut argv: [napi_value; 5] = [ptr::null_mut(); 5];
    if napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), ptr::null_mut()) != NAPI_OK || argc < 5 {
        return throw(env, "deflatePieces(inputs, endsStream, level, threads, crcOut) takes 5 arguments");
    }
    let [inputs, ends_stream, level_value, threads_value, crc_out] = argv;
    let mut is_array = false;
    let mut count: u32 = 0;
    if napi_is_array(env, inputs, &mut is_array) != NAPI_OK || !is_array || napi_get_array_length(env, inputs, &mut count) != NAPI_OK {
        return throw(env, "inputs must be an array of Uint8Array");
    }
    let count = count as usize;
    let Some((ends_data, ends_length)) = typed_array(env, ends_stream, NAPI_UINT8_ARRAY) else {
        return throw(env, "endsStream must be a Uint8Array");
    };
    if ends_length != count {
        return throw(env, "endsStream must have one flag per input");
    }
    let Some((_, crc_length)) = typed_array(env, crc_out, NAPI_UINT32_ARRAY) else {
        return throw(env, "crcOut must be a Uint32Array");
    };
    if crc_length != count {
        return throw(env, "crcOut must have one slot per input");
    }
    let mut level: u32 = 0;
    let mut threads: u32 = 0;
    if napi_get_value_uint32(env, level_value, &mut level) != NAPI_OK || !(1..=12).contains(&level) {
        return throw(env, "level must be an integer from 1 to 12");
    }
    if napi_get_value_uint32(env, threads_value, &mut threads) != NAPI_OK || threads == 0 {
        return throw(env, "threads must be a positive integer");
    }
    let ends = std::slice::from_raw_parts(ends_data as *const u8, count);
    let mut references: Vec<napi_ref> = Vec::with_capacity(count + 1);
    let mut pieces: Vec<Piece> = Vec::with_capacity(count);
    for index in 0..count {
        let mut element: napi_value = ptr::null_mut();
        if napi_get_element(env, inputs, index as u32, &mut element) != NAPI_OK {
            release(env, &references);
            return throw(env, "cannot read inputs");
        }
        let Some((data, length)) = typed_array(env, element, NAPI_UINT8_ARRAY) else {
            release(env, &references);
            return throw(env, &format!("inputs[{index}] must be a Uint8Array"));
        };
        let mut reference: napi_ref = ptr::null_mut();
        if napi_create_reference(env, element, 1, &mut reference) != NAPI_OK {
            release(env, &references);
            return throw(env, "cannot reference an input");
        }
        references.push(reference);
        pieces.push(Piece { data: data as *const u8, length, ends_stream: ends[index] != 0 });
    }
    let mut crc_reference: napi_ref = ptr::null_mut();
    if napi_create_reference(env, crc_out, 1, &mut crc_reference) != NAPI_OK {
        release(env, &references);
        return throw(env, "cannot reference crcOut");
    }
    references.push(crc_reference);

    let mut deferred: napi_deferred = ptr::null_mut();
    let mut promise: napi_value = ptr::null_mut();
    let mut name: napi_value = ptr::null_mut();
    let name_text = "pyz:deflatePieces";
    if napi_create_promise(env, &mut deferred, &mut promise) != NAPI_OK
        || napi_create_string_utf8(env, name_text.as_ptr() as *const c_char, name_text.len(), &mut name) != NAPI_OK
    {
        release(env, &references);
        return throw(env, "cannot create a promise");
    }
    let job = Box::into_raw(Box::new(Job {
        pieces,
        level: level as c_int,
        threads: threads as usize,
        references,
        crc_out: crc_reference,
        deferred,
        work: ptr::null_mut(),
        outputs: Vec::new(),
        crcs: Vec::new(),
        error: None,
    }));
    if napi_create_async_work(env, ptr::null_mut(), name, Some(execute), Some(complete), job as *mut c_void, &mut (*job).work)
        != NAPI_OK
        || napi_queue_async_work(env, (*job).work) != NAPI_OK
    {
        let job = Box::from_raw(job);
        release(env, &job.references);
        napi_reject_deferred(env, job.deferred, create_error(env, "cannot queue async work"));
        if !job.work.is_null() {
            napi_delete_async_work(env, job.work);
        }
    }
    promise
}

/// Entry point Node looks up in an addon that does not call napi_module_register.
#[no_mangle]
pub unsafe extern "C" fn napi_register_module_v1(env: napi_env, exports: napi_value) -> napi_value {
    let mut function: napi_value = ptr::null_mut();
    if napi_create_function(env, b"deflatePieces\0".as_ptr() as *const c_char, NAPI_AUTO_LENGTH, Some(js_deflate_pieces), ptr::null_mut(), &mut function)
        != NAPI_OK
        || napi_set_named_property(env, exports, b"deflatePieces\0".as_ptr() as *const c_char, function) != NAPI_OK
    {
        throw(env, "pyz-native: cannot register deflatePieces");
    }
    exports
}
