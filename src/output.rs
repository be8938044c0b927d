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
            format!("{} exists; pass --force to replace it", path.display()),
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
        let mut w = io::BufWriter::new(Writeback::new(tmp.as_file_mut()));
        fill(&mut w)?;
        w.flush()?;
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

/// A file being written, whose pages are handed to the disk every [`WRITEBACK_BYTES`]
/// instead of all at the final sync: the disk writes while the rest is produced, and the
/// sync that makes the output durable before it is renamed into place waits for little
/// (a 1.4 GB score table spent 1.3 s in that sync).
struct Writeback<'a> {
    file: &'a mut std::fs::File,
    /// Bytes written, and of them the bytes already handed to the disk.
    written: u64,
    started: u64,
}

/// Bytes between two hand-overs to the disk.
const WRITEBACK_BYTES: u64 = 16 << 20;

impl<'a> Writeback<'a> {
    fn new(file: &'a mut std::fs::File) -> Self {
        Writeback {
            file,
            written: 0,
            started: 0,
        }
    }

    /// Starts the writing out of the bytes not yet handed over (without waiting for it).
    #[cfg(target_os = "linux")]
    fn start(&mut self) {
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
    fn start(&mut self) {
        self.started = self.written;
    }
}

impl Write for Writeback<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.written - self.started >= WRITEBACK_BYTES {
            self.start();
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
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
}
