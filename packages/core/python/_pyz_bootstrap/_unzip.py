"""pyz runtime, cold path: reading the archive's zips and extracting the payload (first run only).

Our own reader rather than `zipfile`: `zipfile.extractall` (what shiv runs) spends most of its time
in Python per member (ZipInfo objects, ZipExtFile's buffered reads, the shared-file lock, a
separate CRC pass) and runs on one core. Here the central directory is parsed once with `struct`
from one read, every member is read with one `os.pread`, inflated with one `zlib.decompress`
(bounded-memory streaming above LARGE_MEMBER), CRC-checked and written with `os.open` + `os.write`;
worker processes (`os.fork`; threads where there is no fork, or when other threads are running)
take contiguous chunks of members from a shared queue. Every name is validated before anything
is written, and everything goes into a new private directory that the caller renames into place.

Formats: PKWARE APPNOTE 6.3.10, sections cited next to each structure. Only what pyz writes is
accepted: methods 0 (stored) and 8 (deflate), no encryption, one disk, ZIP64 where needed (zipimport
reads ZIP64 only from 3.13, hence the nested payload and this reader).
"""
import os
import struct
import sys
import zlib

from . import BootstrapError

# APPNOTE 4.3.16 end of central directory record: signature(4) this disk(2) disk of the central
# directory(2) entries on this disk(2) total entries(2) central directory size(4) central
# directory offset(4) comment length(2).
END_RECORD = struct.Struct("<IHHHHIIH")
END_SIGNATURE = 0x06054B50
# APPNOTE 4.3.15 zip64 end of central directory locator: signature(4) disk of the zip64 record(4)
# offset of the zip64 record(8) total disks(4).
ZIP64_LOCATOR = struct.Struct("<IIQI")
ZIP64_LOCATOR_SIGNATURE = 0x07064B50
# APPNOTE 4.3.14 zip64 end of central directory record: signature(4) size of the rest of the
# record(8) version made by(2) version needed(2) this disk(4) disk of the central directory(4)
# entries on this disk(8) total entries(8) central directory size(8) central directory offset(8).
ZIP64_END_RECORD = struct.Struct("<IQHHIIQQQQ")
ZIP64_END_SIGNATURE = 0x06064B50
# APPNOTE 4.3.12 central directory file header: signature(4) version made by(2) version needed(2)
# flags(2) method(2) time(2) date(2) crc-32(4) compressed size(4) uncompressed size(4) name
# length(2) extra length(2) comment length(2) disk number start(2) internal attributes(2)
# external attributes(4) local header offset(4); then name, extra field, comment. Read with the
# fields read_directory does not use (versions, time, date, disk number start, internal
# attributes) skipped as padding: 11 values instead of 17 to unpack, for every member.
CENTRAL_FIELDS = struct.Struct("<I4xHH4xIIIHHH4xII")
CENTRAL_SIGNATURE = 0x02014B50
# APPNOTE 4.3.7 local file header: signature(4) version needed(2) flags(2) method(2) time(2)
# date(2) crc-32(4) compressed size(4) uncompressed size(4) name length(2) extra length(2).
LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")
LOCAL_SIGNATURE = 0x04034B50
# APPNOTE 4.5.3 zip64 extended information extra field (header id 0x0001).
ZIP64_EXTRA_ID = 0x0001
FLAG_ENCRYPTED = 0x0001
FLAG_UTF8 = 0x0800  # APPNOTE 4.4.4 bit 11: name is UTF-8 (else IBM code page 437, as zipfile reads it)
STORED = 0
DEFLATED = 8
S_IFLNK = 0o120000

# Members above this many bytes (compressed or not) are streamed in CHUNK pieces: memory stays
# bounded whatever the member size; below it one pread + one decompress is the fastest.
LARGE_MEMBER = 4 << 20
CHUNK = 1 << 20
# Creating a file (or a directory) costs about as much as inflating and writing this many bytes
# (measured on tmpfs; more on a busy ext4): its weight when the members are cut into chunks.
FILE_COST = 16 << 10
# A worker process is worth its fork only with at least this much work (~20 ms of extraction).
WORK_PER_WORKER = 8 << 20
MAX_WORKERS = 8
# Guided chunks (_chunks): each takes 1/(GUIDED_SHARE * workers) of the work left, but at least
# MIN_CHUNK_COST (~3 ms of extraction); chunk indices travel as single bytes, hence MAX_CHUNKS.
# 3 and 1 MiB rather than 2 and 2 MiB: smaller first chunks leave less to even out at the end
# (medium corpus, python3.11, 7 interleaved first runs: 298 → 284 ms; large, small and the
# 70,000-file tree unchanged).
GUIDED_SHARE = 3
MIN_CHUNK_COST = 1 << 20
MAX_CHUNKS = 255
# A forked worker checks this often whether its parent is still alive (and stops if not).
PARENT_CHECK_INTERVAL = 64
# zlib.decompress's output buffer: exactly the size on 3.10+ (a filled buffer is returned as it
# is); one byte more before, where a filled buffer is first doubled (a realloc) and then shrunk
# (CPython Modules/zlibmodule.c, bpo-41486).
OUTPUT_SLACK = 0 if sys.version_info >= (3, 10) else 1
# O_EXCL: never write through anything that is already there (the directory is new and private).
CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)

# One member of a zip, as the central directory describes it.
# (name, length of the name in bytes, method, crc-32, compressed size, size, local header offset,
# mode, flags)
NAME, NAME_LENGTH, METHOD, CRC, COMPRESSED_SIZE, SIZE, OFFSET, MODE, FLAGS = range(9)


def _invalid(archive, detail):
    return BootstrapError("ARCHIVE_INVALID", "%s: %s" % (archive, detail), "rebuild the archive with pyz build")


def _unsafe(name, reason):
    return BootstrapError(
        "UNSAFE_MEMBER", "refusing payload member %r: %s" % (name, reason),
        "rebuild the archive with pyz build; do not run archives from untrusted sources",
    )


class Source:
    """Positional reads of an open file: os.pread where it exists (no shared position, so worker
    threads and forked processes share one descriptor), else a locked seek + read (Windows)."""

    def __init__(self, path):
        self.path = path
        self.descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        self.size = os.fstat(self.descriptor).st_size
        if hasattr(os, "pread"):
            self.lock = None
        else:
            import threading

            self.lock = threading.Lock()

    def read(self, offset, count):
        """Exactly `count` bytes at `offset` (EOFError if the file is shorter)."""
        if self.lock is None:
            data = os.pread(self.descriptor, count, offset)
            if len(data) < count:  # the kernel may return less for a large count
                parts = [data]
                done = len(data)
                while done < count:
                    more = os.pread(self.descriptor, count - done, offset + done)
                    if not more:
                        raise EOFError("%d bytes at offset %d: the file ends first" % (count, offset))
                    parts.append(more)
                    done += len(more)
                data = b"".join(parts)
            return data
        with self.lock:
            os.lseek(self.descriptor, offset, os.SEEK_SET)
            parts = []
            done = 0
            while done < count:
                more = os.read(self.descriptor, count - done)
                if not more:
                    raise EOFError("%d bytes at offset %d: the file ends first" % (count, offset))
                parts.append(more)
                done += len(more)
            return b"".join(parts)

    def close(self):
        os.close(self.descriptor)


def read_directory(source, start, size, description):
    """Members of the zip at bytes [start, start + size) of `source`; offsets made absolute.

    Like zipfile, tolerates bytes prepended to a zip whose offsets do not count them (the
    difference between where the central directory is and where the end record says it is).
    """
    try:
        tail_size = min(size, END_RECORD.size + 0xFFFF)
        tail_start = start + size - tail_size
        tail = source.read(tail_start, tail_size)
        # The end record is last unless the zip has a comment: look for its signature from the end.
        position = len(tail) - END_RECORD.size
        if position < 0 or END_RECORD.unpack_from(tail, position)[0] != END_SIGNATURE:
            position = tail.rfind(b"PK\x05\x06")
            while position >= 0 and position + END_RECORD.size + END_RECORD.unpack_from(tail, position)[7] > len(tail):
                position = tail.rfind(b"PK\x05\x06", 0, position)
            if position < 0 or position + END_RECORD.size > len(tail):
                raise _invalid(description, "no end of central directory record (not a zip file)")
        (_signature, disk, directory_disk, _disk_entries, _entries, directory_size, directory_offset,
         _comment_length) = END_RECORD.unpack_from(tail, position)
        directory_end = tail_start + position  # absolute position the central directory ends at
        locator_position = position - ZIP64_LOCATOR.size
        if locator_position >= 0 and ZIP64_LOCATOR.unpack_from(tail, locator_position)[0] == ZIP64_LOCATOR_SIGNATURE:
            # Like zipfile: the zip64 record sits right before its locator (no extensible data).
            record_start = tail_start + locator_position - ZIP64_END_RECORD.size
            if record_start < start:
                raise _invalid(description, "truncated zip64 end of central directory record")
            record = ZIP64_END_RECORD.unpack_from(source.read(record_start, ZIP64_END_RECORD.size))
            if record[0] != ZIP64_END_SIGNATURE:
                raise _invalid(description, "bad zip64 end of central directory record")
            disk, directory_disk, directory_size, directory_offset = record[4], record[5], record[8], record[9]
            directory_end = record_start
        if disk != 0 or directory_disk != 0:
            raise _invalid(description, "multi-disk zip files are not supported")
        concatenated = directory_end - start - directory_size - directory_offset
        if concatenated < 0:
            raise _invalid(description, "central directory offset or size out of range")
        directory = source.read(directory_end - directory_size, directory_size)
    except (OSError, EOFError, struct.error) as error:
        raise _invalid(description, "cannot read the central directory: %s" % error)
    members = []
    append = members.append
    unpack = CENTRAL_FIELDS.unpack_from
    header_size = CENTRAL_FIELDS.size
    position = 0
    end = len(directory)
    base = start + concatenated
    # One decode of the whole directory as latin-1 (a character per byte, so positions match);
    # a name whose slice is ASCII (as good as always) reads the same in UTF-8 and in cp437.
    text = directory.decode("latin-1")
    while position < end:
        if position + header_size > end:
            raise _invalid(description, "truncated central directory")
        (signature, flags, method, crc, compressed_size, file_size, name_length, extra_length, comment_length,
         external, offset) = unpack(directory, position)
        if signature != CENTRAL_SIGNATURE:
            raise _invalid(description, "bad central directory header at offset %d" % position)
        name_start = position + header_size
        name_end = name_start + name_length
        if compressed_size == 0xFFFFFFFF or file_size == 0xFFFFFFFF or offset == 0xFFFFFFFF:
            extra = directory[name_end:name_end + extra_length]
            file_size, compressed_size, offset = _zip64_values(extra, file_size, compressed_size, offset, description, directory[name_start:name_end])
        position = name_end + extra_length + comment_length
        if position > end:
            raise _invalid(description, "truncated central directory")
        name = text[name_start:name_end]
        if not name.isascii():
            raw_name = directory[name_start:name_end]
            try:
                name = raw_name.decode("utf-8" if flags & FLAG_UTF8 else "cp437")
            except UnicodeDecodeError:
                raise _invalid(description, "member name %r is not valid UTF-8" % raw_name)
        append((name, name_length, method, crc, compressed_size, file_size, base + offset, external >> 16, flags))
    return members


def _zip64_values(extra, file_size, compressed_size, offset, description, raw_name):
    """APPNOTE 4.5.3: the 8-byte values present, in this order, for each field set to 0xFFFFFFFF."""
    position = 0
    while position + 4 <= len(extra):
        header_id, data_size = struct.unpack_from("<HH", extra, position)
        position += 4
        if header_id == ZIP64_EXTRA_ID:
            field = position
            try:
                if file_size == 0xFFFFFFFF:
                    file_size = struct.unpack_from("<Q", extra, field)[0]
                    field += 8
                if compressed_size == 0xFFFFFFFF:
                    compressed_size = struct.unpack_from("<Q", extra, field)[0]
                    field += 8
                if offset == 0xFFFFFFFF:
                    offset = struct.unpack_from("<Q", extra, field)[0]
            except struct.error:
                break
            if field > position + data_size:
                break
            return file_size, compressed_size, offset
        position += data_size
    raise _invalid(description, "member %r lacks its zip64 extra field" % raw_name)


def member_data_range(source, member, description):
    """(start, end) of a member's stored bytes: past its local header (APPNOTE 4.3.7)."""
    try:
        header = source.read(member[OFFSET], LOCAL_HEADER.size)
    except (OSError, EOFError) as error:
        raise _invalid(description, "cannot read the local header of %s: %s" % (member[NAME], error))
    fields = LOCAL_HEADER.unpack(header)
    if fields[0] != LOCAL_SIGNATURE:
        raise _invalid(description, "bad local header for %s" % member[NAME])
    start = member[OFFSET] + LOCAL_HEADER.size + fields[9] + fields[10]
    return start, start + member[COMPRESSED_SIZE]


def find_payload(archive, payload_name):
    """(source, start, size) of the STORED nested payload zip inside the outer archive."""
    try:
        source = Source(archive)
    except OSError as error:
        raise _invalid(archive, "cannot open: %s" % (error.strerror or error))
    try:
        for member in read_directory(source, 0, source.size, archive):
            if member[NAME] != payload_name:
                continue
            if member[METHOD] != STORED or member[FLAGS] & FLAG_ENCRYPTED:
                raise _invalid(archive, "%s must be stored (method 0), not method %d" % (payload_name, member[METHOD]))
            start, end = member_data_range(source, member, archive)
            if member[COMPRESSED_SIZE] != member[SIZE] or end > source.size:
                raise _invalid(archive, "%s is truncated" % payload_name)
            return source, start, member[SIZE]
        raise _invalid(archive, "no %s member" % payload_name)
    except BaseException:
        source.close()
        raise


def _ancestors(parents):
    """Every directory above and including each of `parents` ('a/b' -> 'a', 'a/b'), without ''."""
    directories = set()
    for parent in parents:
        while parent and parent not in directories:
            directories.add(parent)
            parent = parent.rpartition("/")[0]
    return directories


def plan_members(members):
    """Validate every member before writing anything; return (directories, files).

    Refused (SPEC §5, zip-slip): absolute paths, drive letters, backslashes, NUL, `.`/`..`/empty
    components, duplicates (also a file that is another member's parent directory) and symlinks
    (mode S_IFLNK in the Unix external attributes: a link could point outside the cache).
    `files` are (relative path, member) in central directory order (= archive order for pyz).

    This runs before any worker starts, so the name checks run over all names at once, as
    substring tests of one joined string (C loops, ~1 ms for 5,000 names): framed as
    "/name/", one per line, the names hold "//", "/./" or "/../" when one of them is empty,
    absolute, ends with "/" (a directory member) or has an empty, "." or ".." component (and
    for some harmless names: one starting or ending with a line break). Only when a test finds
    something does the member-by-member check run (_plan_each), to name the member and the
    reason, or to plan what the fast path leaves to it (directory members, names holding a
    ":").
    """
    names = [member[NAME] for member in members]
    joined = "\n".join(names)
    framed = "/" + joined.replace("\n", "/\n/") + "/"
    if (
        "//" in framed or "/./" in framed or "/../" in framed or "\\" in joined or "\0" in joined or ":" in joined
        or len(set(names)) != len(names)
        or any((member[MODE] & 0o170000) == S_IFLNK for member in members)
    ):
        return _plan_each(members)
    directories = _ancestors(set(name.rpartition("/")[0] for name in names))
    if not directories.isdisjoint(names):
        return _plan_each(members)
    return sorted(directories), list(zip(names, members))


def _plan_each(members):
    """plan_members one member at a time: raises UNSAFE_MEMBER naming the first unsafe member
    and the reason, else plans like plan_members (and directory members too)."""
    files = []
    seen = set()
    parents = set()
    explicit = []
    for member in members:
        name = member[NAME]
        is_directory = name.endswith("/")
        relative = name[:-1] if is_directory else name
        if not relative:
            raise _unsafe(name, "empty name")
        if "\\" in name:
            raise _unsafe(name, "backslash in path")
        if name[0] == "/":
            raise _unsafe(name, "absolute path")
        if name[1:2] == ":":
            raise _unsafe(name, "drive letter")
        if "\0" in name:
            raise _unsafe(name, "NUL in path")
        if (member[MODE] & 0o170000) == S_IFLNK:
            raise _unsafe(name, "symbolic link")
        # A ".", ".." or empty component shows as "/./", "/../" or "//" once the name is
        # framed with slashes (most names hold a "." in an extension: no split for those).
        framed = "/" + relative + "/"
        if "/./" in framed or "/../" in framed or "//" in framed:
            for part in relative.split("/"):
                if part in ("", ".", ".."):
                    raise _unsafe(name, "%r path component" % part)
        if relative in seen:
            raise _unsafe(name, "duplicate member")
        seen.add(relative)
        if is_directory:
            explicit.append(relative)
        else:
            files.append((relative, member))
        parents.add(relative.rpartition("/")[0])
    directories = _ancestors(parents)
    directories.update(explicit)
    if not directories.isdisjoint(relative for relative, _member in files):
        clash = sorted(directories.intersection(relative for relative, _member in files))[0]
        raise _unsafe(clash, "member is both a file and a directory")
    return sorted(directories), files


def listing_of(directories, files):
    """{directory: sorted names} as os.walk would find it after extraction, without __pycache__
    (Python writes those later), for the cache manifest: no second walk over the tree."""
    listing = {"": []}
    for directory in directories:
        if "__pycache__" not in directory.split("/"):
            listing[directory] = []
    for relative in directories:
        parent, _, name = relative.rpartition("/")
        if parent in listing and name != "__pycache__" and relative in listing:
            listing[parent].append(name)
    for relative, _member in files:
        parent, _, name = relative.rpartition("/")
        if parent in listing:
            listing[parent].append(name)
    for names in listing.values():
        names.sort()
    return listing


# ------------------------------------------------------------------------------------ extraction


class _MemberError(Exception):
    """A member that cannot be extracted: (code, message, fix) of the BootstrapError to raise."""


def _write_all(descriptor, data):
    written = os.write(descriptor, data)
    if written < len(data):
        view = memoryview(data)[written:]
        while view:
            view = view[os.write(descriptor, view):]


def _corrupt(archive, relative, detail):
    return _MemberError(
        "ARCHIVE_INVALID", "%s: payload member %s is corrupt: %s" % (archive, relative, detail),
        "the archive is damaged (truncated copy or download?): copy it again or rebuild it with pyz build",
    )


def _extract_member(source, archive, destination, relative, member):
    """Write one member; return the file's mtime (ns) as fstat sees it once the last byte is in.

    The manifest records size and mtime of every file (write_manifest): taking the mtime from
    the open descriptor here costs one fstat and no path lookup, on the workers, instead of an
    lstat per file after extraction on the critical path. Nothing moves a file's mtime once it is
    written (close does not; CPython's pyc check only reads it).
    """
    _name, name_length, method, crc, compressed_size, size, offset, mode, flags = member
    if method not in (STORED, DEFLATED) or flags & FLAG_ENCRYPTED:
        raise _MemberError(
            "ARCHIVE_INVALID", "%s: payload member %s uses compression method %d%s" % (
                archive, relative, method, " with encryption" if flags & FLAG_ENCRYPTED else ""),
            "rebuild the archive with pyz build (methods 0 and 8 only, no encryption)",
        )
    data = None  # a large member is streamed once the file is open
    try:
        if compressed_size <= LARGE_MEMBER and size <= LARGE_MEMBER:
            # One read for the local header and (usually) the data: the local name and extra
            # field are almost always as long as the central directory's name (+ a little slack).
            guess = LOCAL_HEADER.size + name_length + 64
            block = source.read(offset, guess + compressed_size) if offset + guess + compressed_size <= source.size else source.read(offset, LOCAL_HEADER.size)
            fields = LOCAL_HEADER.unpack_from(block)
            if fields[0] != LOCAL_SIGNATURE:
                raise _corrupt(archive, relative, "bad local header")
            data_start = LOCAL_HEADER.size + fields[9] + fields[10]
            if data_start + compressed_size <= len(block):
                raw = memoryview(block)[data_start:data_start + compressed_size]
            else:
                raw = source.read(offset + data_start, compressed_size)
            data = zlib.decompress(raw, -15, size + OUTPUT_SLACK) if method == DEFLATED else raw
            if len(data) != size:
                raise _corrupt(archive, relative, "%d bytes instead of %d" % (len(data), size))
            if zlib.crc32(data) != crc:
                raise _corrupt(archive, relative, "CRC-32 mismatch")
    except (EOFError, zlib.error) as error:
        raise _corrupt(archive, relative, str(error))
    # Exec bits kept (pip's bin/ scripts); the umask applies as for any file we create.
    descriptor = os.open(destination + relative, CREATE_FLAGS, 0o755 if mode & 0o111 else 0o644)
    try:
        if data is None:
            _stream_member(source, archive, relative, member, descriptor)
        elif size:
            _write_all(descriptor, data)
        return os.fstat(descriptor).st_mtime_ns
    finally:
        os.close(descriptor)


def _stream_member(source, archive, relative, member, descriptor):
    """A large member in CHUNK pieces: memory stays bounded even for a highly compressible one."""
    try:
        start, end = member_data_range(source, member, archive)
        decompressor = zlib.decompressobj(-15) if member[METHOD] == DEFLATED else None
        crc = 0
        written = 0
        position = start
        while position < end:
            chunk = source.read(position, min(CHUNK, end - position))
            position += len(chunk)
            if decompressor is None:
                pieces = (chunk,)
            else:
                pieces = [decompressor.decompress(chunk, CHUNK)]
                while decompressor.unconsumed_tail:
                    pieces.append(decompressor.decompress(decompressor.unconsumed_tail, CHUNK))
            for piece in pieces:
                if piece:
                    crc = zlib.crc32(piece, crc)
                    written += len(piece)
                    if written > member[SIZE]:
                        raise _corrupt(archive, relative, "more than %d bytes" % member[SIZE])
                    _write_all(descriptor, piece)
        if decompressor is not None:
            rest = decompressor.flush()
            if rest:
                crc = zlib.crc32(rest, crc)
                written += len(rest)
                _write_all(descriptor, rest)
            if not decompressor.eof:
                raise _corrupt(archive, relative, "truncated deflate stream")
        if written != member[SIZE]:
            raise _corrupt(archive, relative, "%d bytes instead of %d" % (written, member[SIZE]))
        if crc != member[CRC]:
            raise _corrupt(archive, relative, "CRC-32 mismatch")
    except (EOFError, zlib.error) as error:
        raise _corrupt(archive, relative, str(error))


class _Job:
    """One extraction, shared by every worker: the source, the files (central directory order),
    the chunks ((sorted directories, first file index, end file index)) and `mtimes`, the mtime
    of every file by index (0 until written; a forked worker sends its part back, _run_forked)."""

    def __init__(self, source, archive, destination, files, chunks):
        self.source = source
        self.archive = archive
        self.destination = os.path.join(destination, "")  # with a trailing separator: + relative path
        self.files = files
        self.chunks = chunks
        self.mtimes = [0] * len(files)


def _extract_chunk(job, index, stop):
    """One chunk: its directories (parents first; another worker may have made one already),
    then its files. `stop()` is polled so that a vanished parent process ends a forked worker."""
    directories, first, end = job.chunks[index]
    destination = job.destination
    for directory in directories:
        try:
            os.mkdir(destination + directory)
        except FileExistsError:
            pass  # made by a worker whose chunk also needs it
    files = job.files
    mtimes = job.mtimes
    for position in range(first, end):
        if (position - first) % PARENT_CHECK_INTERVAL == 0 and stop():
            return
        relative, member = files[position]
        try:
            mtimes[position] = _extract_member(job.source, job.archive, destination, relative, member)
        except OSError as error:
            raise _MemberError(
                "EXTRACT_FAILED", "cannot extract %s from %s: %s" % (relative, job.archive, error.strerror or error),
                "check free space and permissions of the cache directory, or rebuild the archive",
            )


def _chunks(directories, files, workers):
    """Contiguous runs of the (sorted) files with the directories they need (sorted, parents
    first), in the order workers take them: worker i starts with chunk i, then all take the
    rest from a shared queue in order.

    One run for one worker; else guided self-scheduling (Polychronopoulos & Kuck, 1987): each
    chunk costs 1/(GUIDED_SHARE * workers) of the work not yet cut, down to MIN_CHUNK_COST, so
    the first chunks are big and the last ones small, and when the queue runs dry the workers
    finish within about one small chunk of each other (with equal chunks, whoever takes the last
    one decides the end while the other cores idle). The queue is ordered heaviest first.

    Contiguous, and far apart at the start: worker 0 starts at the first file, the others at the
    last ones; so workers mostly create files in directories of their own (entries of one
    directory are created under that directory's lock) and read separate regions of the archive.
    """
    parents = [relative.rpartition("/")[0] for relative, _member in files]
    costs = []
    previous = None
    for parent, (_relative, member) in zip(parents, files):
        costs.append(FILE_COST + member[SIZE] + (FILE_COST if parent != previous else 0))  # + mkdir
        previous = parent
    remaining = sum(costs)
    bounds = []
    weights = []
    low, high = 0, len(files)  # files[low:high] are not in a chunk yet
    while low < high:
        if workers == 1 or len(bounds) == MAX_CHUNKS - 1:
            target = remaining
        else:
            target = max(remaining // (GUIDED_SHARE * workers), MIN_CHUNK_COST)
        accumulated = 0
        if 1 <= len(bounds) < workers:  # another worker's first chunk: from the back
            first = high
            while first > low and (accumulated < target or first == high):
                first -= 1
                accumulated += costs[first]
            bounds.append((first, high))
            high = first
        else:
            end = low
            while end < high and (accumulated < target or end == low):
                accumulated += costs[end]
                end += 1
            bounds.append((low, end))
            low = end
        remaining -= accumulated
        weights.append(accumulated)
    if not bounds:
        bounds.append((0, 0))
    # The queue heaviest first (LPT: Graham, 1969): a chunk is heavier than its guided share
    # when one member alone exceeds it (a 25 MB shared library); taken last, it would keep one
    # worker busy while the others have nothing left.
    order = list(range(min(workers, len(bounds)))) + sorted(range(workers, len(bounds)), key=lambda index: -weights[index])
    bounds = [bounds[index] for index in order]
    needed = [_ancestors(set(parents[first:end])) for first, end in bounds]
    # Directories no file needs (explicit empty directory members) go to the first chunk.
    needed[0].update(_ancestors(set(directories).difference(*needed)))
    return [(sorted(chunk_directories), first, end) for chunk_directories, (first, end) in zip(needed, bounds)]


def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))  # the CPUs this process may actually use
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_workers(files):
    work = sum(FILE_COST + member[SIZE] for _relative, member in files)
    return max(1, min(_cpu_count(), MAX_WORKERS, work // WORK_PER_WORKER))


def can_fork():
    """fork() is safe only in a single-threaded process (CPython 3.12 warns otherwise)."""
    if not hasattr(os, "fork") or sys.platform in ("win32", "cygwin", "emscripten", "wasi", "ios", "android"):
        return False
    threading = sys.modules.get("threading")
    return threading is None or threading.active_count() <= 1


def extract_payload(archive, payload_name, destination, workers=None, use_fork=None, signals=None, during=None):
    """Extract the nested payload into the new directory `destination`; return its listing
    ({directory: sorted names}, see listing_of). With a dict as `signals`, also fill it with
    {relative path: (size, mtime_ns)} of every file written (for the manifest, without a second
    pass over the tree). `during(listing)`, if given, runs in this process while the other
    workers extract. Any failure raises BootstrapError; the caller removes the partly written
    directory (it is a private temporary one)."""
    source, start, size = find_payload(archive, payload_name)
    try:
        members = read_directory(source, start, size, "%s (%s)" % (archive, payload_name))
        directories, files = plan_members(members)
        os.mkdir(destination, 0o700)
        if workers is None:
            workers = default_workers(files)
        workers = max(1, min(workers, len(files), MAX_CHUNKS))
        job = _Job(source, archive, destination, files, _chunks(directories, files, workers))
        workers = min(workers, len(job.chunks))
        # The listing (and `during`) is made by this process while the other workers already
        # extract: the shared queue hands them a little more work instead of them waiting for it.
        listing = []

        def side_work():
            listing.append(listing_of(directories, files))
            if during is not None:
                during(listing[0])

        if workers == 1:
            side_work()
            _run_chunk(job, 0, lambda: False)
        elif use_fork if use_fork is not None else can_fork():
            _run_forked(job, workers, side_work)
        else:
            _run_threaded(job, workers, side_work)
        if signals is not None:
            signals.update(zip([relative for relative, _member in files], zip([member[SIZE] for _relative, member in files], job.mtimes)))
        return listing[0]
    finally:
        source.close()


def _run_chunk(job, index, stop):
    try:
        _extract_chunk(job, index, stop)
    except _MemberError as error:
        raise BootstrapError(*error.args)


def _run_threaded(job, workers, side_work):
    """Threads where there is no fork: zlib releases the GIL while it inflates (CPython
    Modules/zlibmodule.c), and so does every os call."""
    import threading

    queue = list(range(len(job.chunks) - 1, workers - 1, -1))  # list.pop() is atomic: the shared queue
    failures = []

    def work(index):
        try:
            while not failures:
                _extract_chunk(job, index, lambda: bool(failures))
                try:
                    index = queue.pop()
                except IndexError:
                    return
        except BaseException as error:  # reported by the calling thread
            failures.append(error)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(1, workers)]
    for thread in threads:
        thread.start()
    try:
        side_work()
    except BaseException:
        failures.append(None)  # stop the threads, then raise
        for thread in threads:
            thread.join()
        raise
    work(0)
    for thread in threads:
        thread.join()
    if failures:
        error = failures[0]
        if isinstance(error, _MemberError):
            raise BootstrapError(*error.args)
        raise error


def _take_chunks(job, index, queue, stop):
    """Extract chunk `index`, then chunks from the queue (a pipe, one byte per index) until it is
    empty; return the indices of the chunks done."""
    done = []
    while True:
        _extract_chunk(job, index, stop)
        done.append(index)
        taken = os.read(queue, 1)  # reads of a pipe are atomic: each index goes to one worker
        if not taken:
            return done
        index = taken[0]


def _mtimes_report(job, done):
    """What a forked worker sends back: for each chunk it did, its index, then its files' mtimes
    (little-endian int64s; `struct` rather than `array`: one extension module fewer to load)."""
    report = []
    for index in done:
        _directories, first, end = job.chunks[index]
        report.append(index)
        report.extend(job.mtimes[first:end])
    return struct.pack("<%dq" % len(report), *report)


def _read_mtimes_report(job, data):
    report = struct.unpack("<%dq" % (len(data) // 8), data[:len(data) // 8 * 8])
    position = 0
    while position < len(report):
        _directories, first, end = job.chunks[report[position]]
        job.mtimes[first:end] = report[position + 1:position + 1 + end - first]
        position += 1 + end - first


def _read_all(descriptor):
    parts = []
    while True:
        part = os.read(descriptor, 1 << 20)
        if not part:
            return b"".join(parts)
        parts.append(part)


def _run_forked(job, workers, side_work):
    """workers - 1 forked children and this process take chunks from a pipe (chunk i of worker i
    first, then the queue in order). A child reports on its own pipe, then exits: status 0 and
    the mtimes of its files (_mtimes_report), or status 1 and code NUL message NUL fix. It never
    returns into the bootstrap (os._exit: no atexit handlers, no stdio flush). Each report pipe
    is read to its end before waitpid: a report may be larger than a pipe's buffer."""
    parent = os.getpid()
    queue, queue_writer = os.pipe()
    try:
        os.write(queue_writer, bytes(range(workers, len(job.chunks))))  # < 255 bytes: fits any pipe buffer
    finally:
        os.close(queue_writer)  # drained queue reads as end of file
    children = []
    orphaned = []  # first chunks of workers that could not be forked
    try:
        for index in range(1, workers):
            read_end, write_end = os.pipe()
            try:
                pid = os.fork()
            except OSError:  # no more processes: the workers we have do the work
                os.close(read_end)
                os.close(write_end)
                orphaned = list(range(index, workers))
                break
            if pid == 0:
                status = 1
                try:
                    os.close(read_end)
                    report = _mtimes_report(job, _take_chunks(job, index, queue, lambda: os.getppid() != parent))
                    status = 0
                except BaseException as error:
                    try:
                        args = error.args if isinstance(error, _MemberError) else (
                            "EXTRACT_FAILED", "cannot extract from %s: %r" % (job.archive, error),
                            "check free space and permissions of the cache directory, or rebuild the archive")
                        report = "\0".join(args).encode("utf-8", "replace")
                    except BaseException:
                        report = b""
                try:
                    _write_all(write_end, report)
                finally:
                    os._exit(status)
            os.close(write_end)
            children.append((pid, read_end))
        side_work()
        try:
            _take_chunks(job, 0, queue, lambda: False)
            for index in orphaned:
                _extract_chunk(job, index, lambda: False)
        except _MemberError as error:
            raise BootstrapError(*error.args)
        failure = None
        while children:
            pid, read_end = children[0]
            report = _read_all(read_end)
            _pid, status = os.waitpid(pid, 0)
            children.pop(0)
            os.close(read_end)
            if status == 0:
                _read_mtimes_report(job, report)
            elif failure is None:
                if report:
                    failure = BootstrapError(*report.decode("utf-8", "replace").split("\0", 2))
                else:
                    failure = BootstrapError(
                        "EXTRACT_FAILED", "an extraction worker of %s ended with wait status %d" % (job.archive, status),
                        "run the app again; if it keeps failing, check the system log (out of memory?)",
                    )
        if failure is not None:
            raise failure
    finally:
        os.close(queue)
        if children:  # we failed or were interrupted: stop the children before anyone cleans up
            import signal

            for pid, read_end in children:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            for pid, read_end in children:
                try:
                    os.waitpid(pid, 0)
                except OSError:
                    pass
                os.close(read_end)
