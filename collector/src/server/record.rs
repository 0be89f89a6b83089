//! `--record FILE`: every accepted batch appended as one line of canonical OTLP JSON, the
//! format the OpenTelemetry Collector's file exporter writes, so recordings replay anywhere.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use crate::formats::otlp_json;

#[derive(Debug)]
pub struct Recorder {
    path: PathBuf,
    out: BufWriter<File>,
    line: Vec<u8>,
}

impl Recorder {
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self {
            path: path.to_owned(),
            out: BufWriter::with_capacity(1 << 20, file),
            line: Vec::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Buffers one batch as one line; whole lines only, so a cut file stays readable.
    pub fn append(&mut self, request: &ExportTraceServiceRequest) -> io::Result<()> {
        self.line.clear();
        otlp_json::encode_request(request, &mut self.line);
        self.line.push(b'\n');
        self.out.write_all(&self.line)
    }

    /// Hands buffered lines to the OS: from here a crash of meshlens loses nothing.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flushes and waits for the disk, at shutdown.
    pub fn close(mut self) -> io::Result<()> {
        self.out.flush()?;
        self.out.get_ref().sync_data()
    }
}
