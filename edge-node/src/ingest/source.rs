//! Reading a docked device's file: its chunks, by position and where possible
//! with `O_DIRECT`, and checks that it is still the file that was opened (a camera
//! unplugged mid-copy leaves a file that shrank, vanished or was replaced).

use std::fs::File;
use std::ops::Range;
use std::path::Path;

use anyhow::{anyhow, Result};
use jilu_common::chunk_tree::CHUNK_SIZE;

use super::{IngestAbort, Watch};

/// Alignment of O_DIRECT reads: buffer address, file offset and length. 4 KiB
/// covers every logical block size a camera's file system reports.
const DIRECT_ALIGN: usize = 4096;
/// Chunks per direct read request (see [`ChunkReader::batch`]).
const DIRECT_BATCH: u64 = 4;

/// Reads a source's chunks by position. Where the file system allows it, through
/// a second descriptor opened with `O_DIRECT`: the device's bytes land in the
/// chunk buffer without a copy through the page cache, and no cached copy of the
/// source has to be allocated and later reclaimed. The source is read once, so
/// caching it buys nothing (and the wipe's re-hash should read the device, not a
/// cached copy). Measured on the 2-core machine, 1 GiB cold: reading alone took
/// 0.97 s of system CPU buffered and 0.14 s direct; the whole ingest went from
/// 4.2-4.4 to 3.0-3.1 CPU-seconds (system 2.2-2.4 → 1.0-1.1 s). Direct reads of
/// one chunk at a time made the ingest 30% slower in wall time (nothing reads
/// ahead); reading [`DIRECT_BATCH`] chunks per request brought that back to
/// within the run-to-run noise (+3..20%, against 0.8-0.9 s less CPU). Asking the
/// kernel to drop each chunk after a buffered read (`POSIX_FADV_DONTNEED`) saved
/// only 0.1-0.2 s. A file system that refuses `O_DIRECT` (most FUSE mounts) is
/// read through the page cache.
pub(super) struct ChunkReader<'a> {
    buffered: &'a File,
    direct: Option<File>,
}

impl<'a> ChunkReader<'a> {
    /// The direct descriptor is opened through `/proc/self/fd`, so it is the very
    /// file `buffered` is (opened here or passed over the control socket), never
    /// whatever its path names now.
    pub(super) fn new(buffered: &'a File) -> ChunkReader<'a> {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::OpenOptionsExt;
        let direct = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32)
            .open(format!("/proc/self/fd/{}", buffered.as_raw_fd()))
            .ok();
        ChunkReader { buffered, direct }
    }

    /// Reads chunk `index` (`want` bytes) into `buf` and returns where in `buf`
    /// it is. A short read means the file shrank, a long one that it grew.
    fn read(&mut self, index: u64, want: usize, buf: &mut Vec<u8>) -> std::io::Result<Read> {
        use std::os::unix::fs::FileExt;
        let pos = index * CHUNK_SIZE as u64;
        if let Some(direct) = &self.direct {
            if buf.len() < CHUNK_SIZE + DIRECT_ALIGN {
                buf.resize(CHUNK_SIZE + DIRECT_ALIGN, 0);
            }
            let off = buf.as_ptr().align_offset(DIRECT_ALIGN);
            let span = want.div_ceil(DIRECT_ALIGN) * DIRECT_ALIGN;
            let mut got = 0;
            let result = loop {
                if got >= want {
                    break Ok(());
                }
                match direct.read_at(&mut buf[off + got..off + span], pos + got as u64) {
                    Ok(0) => break Ok(()),
                    Ok(n) => got += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => break Err(e),
                }
            };
            match result {
                Ok(()) if got == want => return Ok(Read::Chunk(off..off + want)),
                Ok(()) if got < want => return Ok(Read::Short),
                Ok(()) => return Ok(Read::Long),
                // the file system took the open but not the read: page cache from here
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) => {
                    self.direct = None;
                }
                Err(e) => return Err(e),
            }
        }
        buf.resize(want, 0);
        self.buffered.read_exact_at(buf, pos)?;
        Ok(Read::Chunk(0..want))
    }

    /// Chunks to read in one request: several when reading direct, where nothing
    /// reads ahead, so the device sees 4 MiB requests instead of 1 MiB ones.
    pub(super) fn batch(&self) -> u64 {
        if self.direct.is_some() {
            DIRECT_BATCH
        } else {
            1
        }
    }

    /// Reads the chunks `first..first + bufs.len()` of a file of `len` bytes into
    /// `bufs`, one each, in one `preadv` when reading direct: the chunk ranges, or
    /// what was wrong ([`Read::Short`], [`Read::Long`]).
    pub(super) fn read_many(
        &mut self,
        first: u64,
        len: u64,
        bufs: &mut [Vec<u8>],
    ) -> std::io::Result<Result<Vec<Range<usize>>, Read>> {
        let wants: Vec<usize> = (0..bufs.len() as u64)
            .map(|k| jilu_common::chunk_tree::chunk_len(first + k, len))
            .collect();
        if bufs.len() > 1 {
            if let Some(direct) = &self.direct {
                let mut offs = Vec::with_capacity(bufs.len());
                for buf in bufs.iter_mut() {
                    if buf.len() < CHUNK_SIZE + DIRECT_ALIGN {
                        buf.resize(CHUNK_SIZE + DIRECT_ALIGN, 0);
                    }
                    offs.push(buf.as_ptr().align_offset(DIRECT_ALIGN));
                }
                let total: usize = wants.iter().sum();
                let mut slices: Vec<std::io::IoSliceMut<'_>> = bufs
                    .iter_mut()
                    .zip(&offs)
                    .zip(&wants)
                    .map(|((buf, &off), &want)| {
                        let span = want.div_ceil(DIRECT_ALIGN) * DIRECT_ALIGN;
                        std::io::IoSliceMut::new(&mut buf[off..off + span])
                    })
                    .collect();
                // a whole batch in one request, or (short read, signal, a file
                // system that refuses it) chunk by chunk below, which sorts out why
                if let Ok(got) = rustix::io::preadv(direct, &mut slices, first * CHUNK_SIZE as u64)
                {
                    if got == total {
                        return Ok(Ok(offs
                            .iter()
                            .zip(&wants)
                            .map(|(&off, &want)| off..off + want)
                            .collect()));
                    }
                }
            }
        }
        let mut out = Vec::with_capacity(bufs.len());
        for (k, buf) in bufs.iter_mut().enumerate() {
            match self.read(first + k as u64, wants[k], buf)? {
                Read::Chunk(r) => out.push(r),
                other => return Ok(Err(other)),
            }
        }
        Ok(Ok(out))
    }

    /// True when the file has a byte at offset `len`: it grew while being read.
    pub(super) fn grew_past(&self, len: u64) -> std::io::Result<bool> {
        use std::os::unix::fs::FileExt;
        let mut probe = [0u8; 1];
        Ok(self.buffered.read_at(&mut probe, len)? != 0)
    }
}

/// What one chunk read found.
pub(super) enum Read {
    /// the chunk, at this range of the buffer
    Chunk(Range<usize>),
    /// the file ended before the chunk did
    Short,
    /// the file goes on past its length as first seen
    Long,
}

/// The identity of the source file as it was opened: a file that is replaced,
/// removed (a camera unplugged, its folder gone) or cut shorter is no longer the
/// recording being read, even where the open descriptor still reads old bytes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Opened {
    dev: u64,
    ino: u64,
    len: u64,
    watch: Watch,
}

impl Opened {
    pub(super) fn of(meta: &std::fs::Metadata, watch: Watch) -> Opened {
        use std::os::unix::fs::MetadataExt;
        Opened {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            watch,
        }
    }

    /// Fails with [`IngestAbort::SourceChanged`] unless the source is still the
    /// file that was opened, at its full length: by `path` ([`Watch::Path`]), or
    /// by the open `file` alone ([`Watch::Descriptor`]).
    pub(super) fn check(&self, path: &Path, file: &File) -> Result<()> {
        use std::os::unix::fs::MetadataExt;
        let meta = match self.watch {
            Watch::Path => std::fs::metadata(path),
            Watch::Descriptor => file.metadata(),
        };
        let meta = match meta {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(changed(path, "vanished"))
            }
            Err(e) => return Err(changed(path, &format!("could not be read ({e})"))),
        };
        if self.watch == Watch::Descriptor && meta.nlink() == 0 {
            return Err(changed(path, "vanished"));
        }
        let now = Opened::of(&meta, self.watch);
        if (now.dev, now.ino) != (self.dev, self.ino) {
            return Err(changed(path, "was replaced by another file"));
        }
        if now.len < self.len {
            return Err(changed(path, "shrank"));
        }
        if now.len > self.len {
            return Err(changed(path, "grew"));
        }
        Ok(())
    }
}

pub(super) fn changed(path: &Path, why: &str) -> anyhow::Error {
    anyhow!(IngestAbort::SourceChanged {
        path: path.to_path_buf(),
        why: why.to_string(),
    })
}
