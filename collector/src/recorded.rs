//! Recorded trace files straight into spans, for the offline commands. Large JSON-lines files
//! (a collector's file exporter, `serve --record`) are cut at line ends and decoded and
//! normalised on every core, each request dropped once normalised; anything else, or any
//! error, goes through [`parse_traces`], which reports where and why.

use std::fs;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::thread;

use crate::formats::source::{
    SourceError, TraceFormat, each_request, io_error, parse_traces, trace_file_paths,
};
use crate::normalize::Normalizer;
use crate::span::Span;

/// Files smaller than this are read in one piece: threads would cost more than they save.
const PARALLEL_FROM_BYTES: usize = 4 << 20;

/// Every span of the files (any format `meshlens inspect` reads), normalised, in file order;
/// spans with invalid ids are left out, as `serve` refuses them.
pub fn read_spans(paths: &[PathBuf], normalizer: &Normalizer) -> Result<Vec<Span>, SourceError> {
    let mut spans = Vec::new();
    for path in trace_file_paths(paths)? {
        if let Some(chunks) = json_lines_in_parallel(&path, normalizer) {
            spans.extend(chunks.into_iter().flatten());
            continue;
        }
        let bytes = fs::read(&path).map_err(|error| io_error(&path, error))?;
        read_whole(&path, &bytes, normalizer, &mut spans)?;
    }
    Ok(spans)
}

fn read_whole(
    path: &Path,
    bytes: &[u8],
    normalizer: &Normalizer,
    spans: &mut Vec<Span>,
) -> Result<(), SourceError> {
    for request in &parse_traces(path, bytes)?.requests {
        normalizer.normalize_request(request, spans);
    }
    Ok(())
}

/// The spans of each chunk of a large file of JSON documents, each chunk read and decoded by
/// a thread of its own; `None` when the file is not such a file, or a chunk does not read
/// or decode.
fn json_lines_in_parallel(path: &Path, normalizer: &Normalizer) -> Option<Vec<Vec<Span>>> {
    let size = usize::try_from(fs::metadata(path).ok()?.len()).ok()?;
    let threads = thread::available_parallelism().map_or(1, |n| n.get());
    if size < PARALLEL_FROM_BYTES || threads < 2 || !starts_with_object(path) {
        return None;
    }
    let part = size.div_ceil(threads);
    let results: Vec<Option<(TraceFormat, Vec<Span>)>> = thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|i| {
                scope.spawn(move || {
                    let chunk = read_lines_chunk(path, i * part, (i + 1) * part).ok()?;
                    let mut spans = Vec::new();
                    let format = each_request(path, &chunk, |request| {
                        normalizer.normalize_request(&request, &mut spans);
                    })?;
                    Some((format, spans))
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().ok().flatten())
            .collect()
    });
    let mut formats = Vec::new();
    let mut out = Vec::new();
    for (format, spans) in results.into_iter().collect::<Option<Vec<_>>>()? {
        if !spans.is_empty() {
            formats.push(format);
        }
        out.push(spans);
    }
    // One kind of document per file, as the sequential reader insists.
    formats.windows(2).all(|w| w[0] == w[1]).then_some(out)
}

/// The file's first byte (after a BOM) opens a JSON object.
fn starts_with_object(path: &Path) -> bool {
    let mut head = [0u8; 4];
    let Ok(read) = fs::File::open(path).and_then(|mut f| f.read(&mut head)) else {
        return false;
    };
    let head = head.get(..read).unwrap_or_default();
    head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head).first() == Some(&b'{')
}

/// The lines that start in `[from, to)`: from the first line start at or after `from` (the
/// file's start for 0) to the end of the line holding byte `to - 1`. Consecutive ranges give
/// every line exactly once.
fn read_lines_chunk(path: &Path, from: usize, to: usize) -> std::io::Result<Vec<u8>> {
    let mut file = BufReader::with_capacity(1 << 20, fs::File::open(path)?);
    let mut chunk = Vec::with_capacity(to.saturating_sub(from) + (1 << 16));
    let start = if from == 0 {
        0
    } else {
        // The line holding byte `from - 1` belongs to the previous chunk.
        file.seek(SeekFrom::Start(as_offset(from - 1)))?;
        let mut skipped = Vec::new();
        file.read_until(b'\n', &mut skipped)?;
        from - 1 + skipped.len()
    };
    if start >= to {
        return Ok(chunk);
    }
    file.seek(SeekFrom::Start(as_offset(start)))?;
    (&mut file)
        .take(as_offset(to - start))
        .read_to_end(&mut chunk)?;
    if chunk.last().is_some_and(|&b| b != b'\n') {
        file.read_until(b'\n', &mut chunk)?;
    }
    Ok(chunk)
}

fn as_offset(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn chunks_give_every_line_once_wherever_they_are_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lines");
        let text = b"{\"a\":1}\n{\"bb\":2}\n\n{\"c\":3}\n{\"d\":4}";
        fs::write(&path, text).unwrap();
        for parts in 1..=text.len() + 1 {
            let size = text.len().div_ceil(parts);
            let chunks: Vec<Vec<u8>> = (0..parts)
                .map(|i| read_lines_chunk(&path, i * size, (i + 1) * size).unwrap_or_default())
                .collect();
            assert_eq!(chunks.concat(), text.to_vec(), "{parts} parts");
            for chunk in chunks.iter().filter(|c| !c.is_empty()) {
                assert!(chunk.ends_with(b"\n") || text.ends_with(chunk), "{parts}");
            }
        }
    }
}
