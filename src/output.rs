//! Writing outputs at the edge: atomically (a temporary sibling renamed into place), or to
//! standard output for `-`. A closed pipe on standard output is not an error.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Where an output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    /// Standard output.
    Stdout,
    /// A file, written atomically.
    File(PathBuf),
}

impl Sink {
    /// `-` is standard output; anything else a file path.
    pub fn parse(s: &str) -> Sink {
        if s == "-" {
            Sink::Stdout
        } else {
            Sink::File(PathBuf::from(s))
        }
    }
}

/// Check, before any work, that `path` could be written: it does not exist unless
/// `overwrite`, and the nearest existing folder on its way is a folder this process can
/// create files in. Nothing is created. An existing target is an `AlreadyExists` error.
pub fn check_writable(path: &Path, overwrite: bool) -> io::Result<()> {
    if !overwrite && path.exists() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists", path.display()),
        ));
    }
    if path.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            format!("{} is a folder", path.display()),
        ));
    }
    let dir = nearest_folder(path);
    if !dir.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotADirectory,
            format!("{} is not a folder", dir.display()),
        ));
    }
    tempfile::tempfile_in(&dir)
        .map(drop)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot write in {}: {e}", dir.display())))
}

/// The nearest existing folder on the way to `path` (its parent, or the parent's nearest
/// existing ancestor; `.` for a bare file name).
fn nearest_folder(path: &Path) -> PathBuf {
    let mut dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    while !dir.exists() {
        match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => dir = p.to_path_buf(),
            _ => return PathBuf::from("."),
        }
    }
    dir
}

/// Check, before any work, that the file system holding `path` (or the nearest existing
/// folder on its way) has room for about `bytes` more: a `StorageFull` error naming both
/// figures otherwise. Where the free space cannot be read, nothing is refused.
pub fn check_space(path: &Path, bytes: u64) -> io::Result<()> {
    let dir = nearest_folder(path);
    let Some(free) = free_space(&dir) else {
        return Ok(());
    };
    if bytes > free {
        return Err(io::Error::new(
            io::ErrorKind::StorageFull,
            format!(
                "{} needs about {} MB and {} has {} MB free",
                path.display(),
                bytes.div_ceil(1 << 20),
                dir.display(),
                free / (1 << 20)
            ),
        ));
    }
    Ok(())
}

/// Bytes an unprivileged process may still write on the file system holding `dir`.
fn free_space(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a NUL-terminated path and `st` a buffer of the type statvfs fills; it
    // is read only when the call succeeded.
    let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it filled the buffer.
    let st = unsafe { st.assume_init() };
    // (The fields' widths differ between platforms.)
    #[allow(clippy::useless_conversion)]
    let (avail, size) = (u64::from(st.f_bavail), u64::from(st.f_frsize));
    Some(avail.saturating_mul(size))
}

/// Write `bytes` to `path` atomically: into a temporary file beside it, flushed and synced,
/// then renamed over the target. Parent folders are created. With `overwrite == false`, an
/// existing target is an `AlreadyExists` error and nothing is written.
pub fn write_atomic(path: &Path, bytes: &[u8], overwrite: bool) -> io::Result<()> {
    write_atomic_with(path, overwrite, |w| w.write_all(bytes))
}

/// Like [`write_atomic`], with the content produced by a writer callback.
pub fn write_atomic_with(
    path: &Path,
    overwrite: bool,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    if !overwrite && path.exists() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists", path.display()),
        ));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    remove_stale_temporaries(&dir, name);
    // `.name.<pid>.<random>.tmp`: the process id tells a later run whether the writer is
    // still alive (see remove_stale_temporaries).
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.{}.", std::process::id()))
        .suffix(".tmp")
        .tempfile_in(&dir)?;
    {
        let mut w = Output::new(tmp.as_file_mut());
        fill(&mut w)?;
        w.finish()?;
    }
    // tempfile creates 0600; an output gets the target's mode, or the usual 0644.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_or(0o644, |m| m.permissions().mode());
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    tmp.as_file().sync_all()?;
    if overwrite {
        tmp.persist(path).map_err(|e| e.error)?;
    } else {
        tmp.persist_noclobber(path).map_err(|e| e.error)?;
    }
    Ok(())
}

/// A file being written, through a buffer of [`BLOCK_BYTES`]. Each full buffer goes to the
/// disk directly where the system allows it (`O_DIRECT` on Linux), without the page cache:
/// on the development machine a 1.4 GB score table took 2 s of one core to copy into the
/// cache and its writeback, against 0.8 s for the disk to take it directly. Where direct
/// writes are refused (a file system without them), and for the last partial buffer, the
/// bytes go through the page cache, handed to the disk every [`WRITEBACK_BYTES`] instead
/// of all at the final sync. An output smaller than one buffer is one ordinary write.
/// [`Output::finish`] writes what is left; the caller then syncs the file.
struct Output<'a> {
    file: &'a mut std::fs::File,
    /// The buffer; its bytes from `at` (aligned to [`ALIGN`] in memory) are pending.
    buf: Vec<u8>,
    at: usize,
    direct: Direct,
    /// Bytes written through the page cache, and of them the bytes handed to the disk.
    written: u64,
    started: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direct {
    Untried,
    On,
    Off,
}

/// Bytes per direct write (a multiple of [`ALIGN`]).
const BLOCK_BYTES: usize = 8 << 20;

/// The alignment direct writes need, of memory, length and file offset (the largest
/// logical block size of common disks).
const ALIGN: usize = 4096;

/// Bytes between two hand-overs to the disk of bytes written through the page cache.
const WRITEBACK_BYTES: u64 = 16 << 20;

impl<'a> Output<'a> {
    fn new(file: &'a mut std::fs::File) -> Self {
        let mut buf: Vec<u8> = Vec::with_capacity(BLOCK_BYTES + ALIGN);
        let at = buf.as_ptr().align_offset(ALIGN);
        buf.resize(at, 0);
        Output {
            file,
            buf,
            at,
            direct: Direct::Untried,
            written: 0,
            started: 0,
        }
    }

    fn pending(&self) -> usize {
        self.buf.len() - self.at
    }

    /// Writes the full buffer, directly if the system allows it.
    fn drain(&mut self) -> io::Result<()> {
        if self.direct == Direct::Untried {
            self.direct = if set_direct(self.file, true) {
                Direct::On
            } else {
                Direct::Off
            };
        }
        let mut done = 0;
        if self.direct == Direct::On {
            done = self.write_direct(self.pending())?;
        }
        self.write_cached(done)?;
        self.buf.truncate(self.at);
        Ok(())
    }

    /// Writes the first `len` pending bytes (a multiple of [`ALIGN`]) directly; returns how
    /// many were written. A refusal or a short write turns direct writing off, and the
    /// caller writes the rest through the page cache (from an aligned offset either way).
    fn write_direct(&mut self, len: usize) -> io::Result<usize> {
        let mut done = 0;
        while done < len {
            let part = &self.buf[self.at + done..self.at + len];
            match self.file.write(part) {
                Ok(n) if n > 0 && n % ALIGN == 0 => done += n,
                Ok(n) => {
                    // A short write ends direct writing (the next offset may not be aligned).
                    done += n;
                    self.direct_off();
                    return Ok(done);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.raw_os_error() == Some(EINVAL) => {
                    self.direct_off();
                    return Ok(done);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    fn direct_off(&mut self) {
        set_direct(self.file, false);
        self.direct = Direct::Off;
    }

    /// Writes the pending bytes from `from` through the page cache.
    fn write_cached(&mut self, from: usize) -> io::Result<()> {
        let bytes = &self.buf[self.at + from..];
        self.file.write_all(bytes)?;
        self.written += bytes.len() as u64;
        if self.written - self.started >= WRITEBACK_BYTES {
            self.start_writeback();
        }
        Ok(())
    }

    /// Writes what is left: its whole blocks directly if the file is being written so,
    /// the rest through the page cache.
    fn finish(mut self) -> io::Result<()> {
        let mut done = 0;
        if self.direct == Direct::On {
            done = self.write_direct(self.pending() / ALIGN * ALIGN)?;
            if self.direct == Direct::On {
                self.direct_off();
            }
        }
        self.write_cached(done)?;
        self.buf.truncate(self.at);
        Ok(())
    }

    /// Starts the writing out of the cached bytes not yet handed over (without waiting).
    #[cfg(target_os = "linux")]
    fn start_writeback(&mut self) {
        use std::os::unix::io::AsRawFd;
        // SAFETY: a plain system call on an open descriptor; a refusal (a file system that
        // does not support it) only leaves the work to the final sync.
        unsafe {
            libc::sync_file_range(
                self.file.as_raw_fd(),
                self.started as libc::off64_t,
                (self.written - self.started) as libc::off64_t,
                libc::SYNC_FILE_RANGE_WRITE,
            );
        }
        self.started = self.written;
    }

    #[cfg(not(target_os = "linux"))]
    fn start_writeback(&mut self) {
        self.started = self.written;
    }
}

#[cfg(target_os = "linux")]
const EINVAL: i32 = libc::EINVAL;
#[cfg(not(target_os = "linux"))]
const EINVAL: i32 = 22;

/// Turns direct writing of `file` on or off; whether the system did.
#[cfg(target_os = "linux")]
fn set_direct(file: &std::fs::File, on: bool) -> bool {
    use std::os::unix::io::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: plain fcntl calls on an open descriptor owned by `file`.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 {
            return false;
        }
        let flags = if on {
            flags | libc::O_DIRECT
        } else {
            flags & !libc::O_DIRECT
        };
        libc::fcntl(fd, libc::F_SETFL, flags) == 0
    }
}

#[cfg(not(target_os = "linux"))]
fn set_direct(_: &std::fs::File, _: bool) -> bool {
    false
}

impl Write for Output<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(BLOCK_BYTES - self.pending());
        self.buf.extend_from_slice(&data[..n]);
        if self.pending() == BLOCK_BYTES {
            self.drain()?;
        }
        Ok(n)
    }

    /// Nothing: a partial block waits for more bytes or for [`Output::finish`].
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Remove the temporary siblings of `name` in `dir` whose writer is gone: a run killed
/// while writing (SIGKILL, a power cut) cannot remove its own, so the next run writing the
/// same output does. Only `.name.<pid>.<random>.tmp` files of a process that no longer
/// exists are touched; where processes cannot be checked (no /proc), nothing is.
fn remove_stale_temporaries(dir: &Path, name: &str) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = format!(".{name}.");
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(rest) = file
            .to_str()
            .and_then(|f| f.strip_prefix(&prefix))
            .and_then(|f| f.strip_suffix(".tmp"))
        else {
            continue;
        };
        let Some(pid) = rest.split('.').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Write to a sink; a broken pipe on standard output ends quietly.
pub fn write_sink(sink: &Sink, bytes: &[u8], overwrite: bool) -> io::Result<()> {
    match sink {
        Sink::File(p) => write_atomic(p, bytes, overwrite),
        Sink::Stdout => {
            let mut out = io::stdout().lock();
            match out.write_all(bytes).and_then(|_| out.flush()) {
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
                r => r,
            }
        }
    }
}

/// Stream `fill`'s output to standard output; a closed pipe (`| head`) ends it quietly.
pub fn write_stdout_with(fill: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> io::Result<()> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    match fill(&mut out).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        r => r,
    }
}

/// A file-name part from text that may come from a user's file (a profile's name): letters,
/// digits, `.`, `_` and `-` kept, anything else (path separators, `..`, spaces, markup)
/// replaced by `-`, no leading dot, at most 80 characters.
pub fn safe_file_name(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .take(80)
        .collect();
    while out.starts_with('.') {
        out.replace_range(0..1, "-");
    }
    if out.is_empty() {
        out.push_str("profile");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_creates_and_refuses_to_clobber() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/out.txt");
        write_atomic(&p, b"one", false).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        let e = write_atomic(&p, b"two", false).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        write_atomic(&p, b"two", true).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        // no temporary files left behind
        let left: Vec<_> = std::fs::read_dir(p.parent().unwrap()).unwrap().collect();
        assert_eq!(left.len(), 1);
    }

    #[test]
    fn a_long_output_is_handed_to_the_disk_on_the_way_and_arrives_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("long.bin");
        // Two and a half hand-overs' worth, in pieces of an odd size.
        let total = (WRITEBACK_BYTES * 5 / 2) as usize;
        let bytes: Vec<u8> = (0..total).map(|i| (i * 7 % 251) as u8).collect();
        write_atomic_with(&p, false, |w| {
            for piece in bytes.chunks(1_000_003) {
                w.write_all(piece)?;
            }
            Ok(())
        })
        .unwrap();
        assert!(std::fs::read(&p).unwrap() == bytes);
    }

    /// Every size around the block and alignment edges arrives whole, written directly
    /// where the file system allows it and through the page cache where it does not.
    #[test]
    fn outputs_of_every_size_arrive_whole_direct_or_not() {
        let dir = tempfile::tempdir().unwrap();
        let sizes = [
            0,
            1,
            ALIGN - 1,
            ALIGN + 1,
            BLOCK_BYTES - 1,
            BLOCK_BYTES,
            BLOCK_BYTES + ALIGN,
            2 * BLOCK_BYTES + ALIGN + 7,
        ];
        for (k, &size) in sizes.iter().enumerate() {
            let bytes: Vec<u8> = (0..size).map(|i| (i * 31 % 253) as u8).collect();
            for refuse in [false, true] {
                let p = dir.path().join(format!("out{k}{refuse}"));
                let mut f = std::fs::File::create(&p).unwrap();
                let mut w = Output::new(&mut f);
                if refuse {
                    w.direct = Direct::Off;
                }
                for piece in bytes.chunks(777_777) {
                    w.write_all(piece).unwrap();
                }
                w.flush().unwrap();
                w.finish().unwrap();
                // the descriptor is left for ordinary writes
                #[cfg(target_os = "linux")]
                {
                    use std::os::unix::io::AsRawFd;
                    // SAFETY: reads the flags of an open descriptor.
                    let flags = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GETFL) };
                    assert_eq!(flags & libc::O_DIRECT, 0);
                }
                f.sync_all().unwrap();
                drop(f);
                assert!(
                    std::fs::read(&p).unwrap() == bytes,
                    "{size} bytes, refused {refuse}"
                );
            }
        }
    }

    #[test]
    fn failed_fill_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.txt");
        let r = write_atomic_with(&p, false, |_| Err(io::Error::other("boom")));
        assert!(r.is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_dead_writers_temporary_is_removed_and_a_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("scores.csv");
        // pid_max is at most 2^22 on Linux: this process cannot exist.
        let dead = dir.path().join(".scores.csv.4294967294.a1B2c3.tmp");
        let alive = dir
            .path()
            .join(format!(".scores.csv.{}.zz9.tmp", std::process::id()));
        let other = dir.path().join(".other.csv.4294967294.a1B2c3.tmp");
        for p in [&dead, &alive, &other] {
            std::fs::write(p, b"partial").unwrap();
        }
        write_atomic(&target, b"done", true).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"done");
        if Path::new("/proc/self").exists() {
            assert!(!dead.exists(), "stale temporary left behind");
        }
        assert!(alive.exists(), "a live writer's temporary removed");
        assert!(other.exists(), "another output's temporary removed");
    }

    #[test]
    fn a_target_is_checked_before_any_work() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.toml");
        // a file in folders that do not exist yet: their nearest existing ancestor decides
        assert!(check_writable(&dir.path().join("x/y/z.csv"), false).is_ok());
        assert!(!dir.path().join("x").exists(), "nothing is created");
        std::fs::write(&file, "x").unwrap();
        let e = check_writable(&file, false).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert!(check_writable(&file, true).is_ok());
        // a path under a file cannot be written
        assert!(check_writable(&file.join("b.csv"), true).is_err());
        // a folder is not a file
        assert!(check_writable(dir.path(), true).is_err());
    }
}
