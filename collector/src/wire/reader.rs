//! Protobuf wire-format primitives over a borrowed buffer.

/// A malformed protobuf body: what was wrong and where (offset in the whole body).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid protobuf at byte {offset}: {what}")]
pub struct WireError {
    pub offset: usize,
    pub what: &'static str,
}

/// `bytes` as a string; an error points at `offset`, the string's length prefix.
pub(super) fn utf8(bytes: &[u8], offset: usize) -> Result<&str, WireError> {
    std::str::from_utf8(bytes).map_err(|_| WireError {
        offset,
        what: "string is not valid UTF-8",
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WireType {
    Varint,
    Fixed64,
    Len,
    Fixed32,
}

/// A cursor over one message's bytes. `base` is the message's offset in the whole body, so
/// errors point at the right byte however deep the message is nested.
#[derive(Debug, Clone)]
pub(super) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            base: 0,
        }
    }

    pub(super) fn error(&self, what: &'static str) -> WireError {
        WireError {
            offset: self.base + self.pos,
            what,
        }
    }

    /// The next field's number and wire type, or `None` at the end of the message.
    #[inline]
    pub(super) fn key(&mut self) -> Result<Option<(u32, WireType)>, WireError> {
        let Some(&byte) = self.buf.get(self.pos) else {
            return Ok(None);
        };
        // Every field number OTLP uses fits a one-byte key.
        let key = if byte < 0x80 {
            self.pos += 1;
            u64::from(byte)
        } else {
            self.varint_slow()?
        };
        let field = key >> 3;
        if field == 0 || field > u64::from(u32::MAX >> 3) {
            return Err(self.error("invalid field number"));
        }
        let wire = match key & 7 {
            0 => WireType::Varint,
            1 => WireType::Fixed64,
            2 => WireType::Len,
            5 => WireType::Fixed32,
            // Groups (3, 4) are deprecated and never used by OTLP.
            _ => return Err(self.error("unsupported wire type")),
        };
        Ok(Some((field as u32, wire)))
    }

    #[inline]
    pub(super) fn varint(&mut self) -> Result<u64, WireError> {
        // Tags and the lengths of short strings fit one byte: most varints in OTLP.
        if let Some(&byte) = self.buf.get(self.pos)
            && byte < 0x80
        {
            self.pos += 1;
            return Ok(u64::from(byte));
        }
        self.varint_slow()
    }

    fn varint_slow(&mut self) -> Result<u64, WireError> {
        let mut value: u64 = 0;
        for shift in 0..10 {
            let Some(&byte) = self.buf.get(self.pos) else {
                return Err(self.error("truncated varint"));
            };
            self.pos += 1;
            if shift == 9 && byte > 1 {
                return Err(self.error("varint overflows 64 bits"));
            }
            value |= u64::from(byte & 0x7f) << (shift * 7);
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(self.error("varint overflows 64 bits"))
    }

    pub(super) fn fixed64(&mut self) -> Result<u64, WireError> {
        let bytes = self.take(8, "truncated fixed64")?;
        let mut array = [0u8; 8];
        array.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(array))
    }

    fn take(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|&end| end <= self.buf.len())
            .ok_or_else(|| self.error(what))?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    /// A message at offset `base` of the whole body, found without a `Reader` (fast paths).
    pub(super) fn nested(buf: &'a [u8], base: usize) -> Self {
        Self { buf, pos: 0, base }
    }

    /// The offset in the whole body of the next byte to read.
    pub(super) fn offset(&self) -> usize {
        self.base + self.pos
    }

    /// The bytes not read yet.
    pub(super) fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    /// Bytes left in this message.
    pub(super) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// A length-delimited field's bytes.
    pub(super) fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        let len = self.varint()?;
        let len = usize::try_from(len).map_err(|_| self.error("length exceeds the body"))?;
        self.take(len, "length exceeds the body")
    }

    pub(super) fn str(&mut self) -> Result<&'a str, WireError> {
        let start = self.offset();
        utf8(self.bytes()?, start)
    }

    /// [`Self::str`], without checking UTF-8 again when the bytes are those of `last`, a
    /// string read before: batches repeat most strings span after span.
    pub(super) fn str_as_before(&mut self, last: &mut &'a str) -> Result<&'a str, WireError> {
        let start = self.offset();
        let bytes = self.bytes()?;
        if bytes != last.as_bytes() {
            *last = utf8(bytes, start)?;
        }
        Ok(*last)
    }

    /// A length-delimited field as a nested message.
    pub(super) fn sub(&mut self) -> Result<Reader<'a>, WireError> {
        let bytes = self.bytes()?;
        Ok(Reader {
            buf: bytes,
            pos: 0,
            base: self.base + self.pos - bytes.len(),
        })
    }

    pub(super) fn skip(&mut self, wire: WireType) -> Result<(), WireError> {
        match wire {
            WireType::Varint => self.varint().map(drop),
            WireType::Fixed64 => self.take(8, "truncated fixed64").map(drop),
            WireType::Fixed32 => self.take(4, "truncated fixed32").map(drop),
            WireType::Len => self.bytes().map(drop),
        }
    }
}
