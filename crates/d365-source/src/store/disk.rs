//! The file-system steps of the store: the data directory (mode 0700), the advisory lock on
//! `sources.lock` (shared for reads, exclusive for changes), and the atomic replacement of a
//! file (unique temp file in the same directory, fsync, rename, fsync of the directory).
//! Reads never create anything.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

use uuid::Uuid;

use crate::Error;

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> Error {
    let path = path.to_owned();
    move |source| Error::Io {
        action,
        path,
        source,
    }
}

/// Creates `dir` and its missing parents, mode 0700 (existing directories keep their mode:
/// the user chose them).
pub(super) fn create_dir(dir: &Path) -> Result<(), Error> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(io_error("create", dir))?;
    sync_dir(&parent(dir))
}

/// Whether `path` exists (a broken symbolic link counts as missing).
pub(super) fn exists(path: &Path) -> Result<bool, Error> {
    path.try_exists().map_err(io_error("inspect", path))
}

/// A held lock on the lock file; dropping it releases the lock.
#[derive(Debug)]
pub(super) struct Lock {
    _file: File,
}

/// Takes the exclusive lock, creating the lock file if needed (the directory must exist).
pub(super) fn lock_exclusive(path: &Path) -> Result<Lock, Error> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io_error("open", path))?;
    file.lock().map_err(io_error("lock", path))?;
    Ok(Lock { _file: file })
}

/// Takes the shared lock; `None` when there is no lock file, which means no write has run
/// here (or the directory was restored without it). Reading is safe without it: the list is
/// only ever replaced by rename, so a reader sees a whole file either way.
pub(super) fn lock_shared(path: &Path) -> Result<Option<Lock>, Error> {
    let file = match open_nonblocking(path) {
        Ok(file) => file,
        Err(source) if source.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(io_error("open", path)(source)),
    };
    file.lock_shared().map_err(io_error("lock", path))?;
    Ok(Some(Lock { _file: file }))
}

/// The largest source list [`read`] accepts: thousands of sources, far below a size that
/// could exhaust memory.
pub(super) const MAX_LIST_LEN: u64 = 16 * 1024 * 1024;

/// The bytes of `path`; `None` when it does not exist. Like the key file, it must be a regular
/// file (checked before it is opened, so a FIFO cannot block) of at most [`MAX_LIST_LEN`]
/// bytes, and no more than that is ever read.
pub(super) fn read(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    let refuse = |reason: String| io_error("read", path)(io::Error::other(reason));
    let check = |metadata: &fs::Metadata| {
        if !metadata.is_file() {
            return Err(refuse(format!(
                "it is {}, not a regular file",
                file_kind(&metadata.file_type())
            )));
        }
        if metadata.len() > MAX_LIST_LEN {
            return Err(refuse(format!(
                "it holds {} bytes, more than a source list ever needs ({MAX_LIST_LEN})",
                metadata.len()
            )));
        }
        Ok(())
    };
    match fs::metadata(path) {
        Ok(metadata) => check(&metadata)?,
        Err(source) if source.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(io_error("inspect", path)(source)),
    }
    let file = open_nonblocking(path).map_err(io_error("open", path))?;
    check(&file.metadata().map_err(io_error("inspect", path))?)?;
    let mut bytes = Vec::new();
    file.take(MAX_LIST_LEN + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error("read", path))?;
    if bytes.len() as u64 > MAX_LIST_LEN {
        return Err(refuse(format!(
            "it grew past {MAX_LIST_LEN} bytes while it was read"
        )));
    }
    Ok(Some(bytes))
}

/// Opens `path` for reading. On Unix without blocking: opening a FIFO for reading otherwise
/// waits for a writer, which a file swapped in after a `stat` could exploit.
pub(super) fn open_nonblocking(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut options,
        libc::O_NONBLOCK | libc::O_NOCTTY,
    );
    options.open(path)
}

/// What a file that is not a regular file is, for an error message.
pub(super) fn file_kind(file_type: &fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if file_type.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Replaces `path` with `bytes` so that readers and a crash see the old or the new file,
/// never a mix. The temp file is removed if anything fails before the rename.
pub(super) fn replace(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = parent(path);
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut temp = TempFile {
        path: dir.join(format!(".{file_name}.{}.tmp", Uuid::new_v4().simple())),
        renamed: false,
    };
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&temp.path)
        .map_err(io_error("create", &temp.path))?;
    file.write_all(bytes)
        .map_err(io_error("write", &temp.path))?;
    file.sync_all().map_err(io_error("sync", &temp.path))?;
    drop(file);
    fs::rename(&temp.path, path).map_err(io_error("replace", path))?;
    temp.renamed = true;
    sync_dir(&dir)
}

/// Makes a new or renamed entry of `dir` durable.
pub(super) fn sync_dir(dir: &Path) -> Result<(), Error> {
    // Directories cannot be opened as files on every platform; where they can (Unix), fsync
    // is what makes a rename survive a crash.
    #[cfg(unix)]
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(io_error("sync", dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// A temp file that is removed on drop unless it was renamed into place.
#[derive(Debug)]
struct TempFile {
    path: PathBuf,
    renamed: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.renamed {
            return;
        }
        // Best effort: the error that got us here matters more than a leftover temp file.
        let _ = fs::remove_file(&self.path);
    }
}
