//! TFRecord files (TensorFlow's `tf.io.TFRecordWriter` format), read as
//! TensorFlow's own reader does. Each record is framed as
//!
//! ```text
//! u64 length (little endian) | u32 masked CRC32C of the length bytes
//! data (length bytes)        | u32 masked CRC32C of the data
//! ```
//!
//! Both checksums are verified: a warmup file copied half-way, or written by
//! something else, must fail the load with a clear message instead of
//! replaying garbage.

use std::io::Read;

/// Bytes before a record's data: the length and its checksum.
const HEADER_BYTES: usize = 12;
/// Bytes after a record's data: its checksum.
const FOOTER_BYTES: usize = 4;

/// What can be wrong with a TFRecord stream (TensorFlow's wording first).
#[derive(Debug, thiserror::Error)]
pub enum TfRecordError {
    #[error("corrupted record at {offset_bytes} (the checksum of its {part} does not match)")]
    Corrupted {
        offset_bytes: u64,
        part: &'static str,
    },
    #[error(
        "truncated record at {offset_bytes} (its header announces {length_bytes} bytes of data and a 4-byte checksum; the file ends {available_bytes} bytes later)"
    )]
    Truncated {
        offset_bytes: u64,
        length_bytes: u64,
        available_bytes: u64,
    },
    #[error("cannot read record at {offset_bytes}: {source}")]
    Io {
        offset_bytes: u64,
        source: std::io::Error,
    },
}

/// The Castagnoli polynomial (reversed), which TFRecord checksums use.
const CRC32C_POLY: u32 = 0x82f6_3b78;

static CRC32C_TABLE: std::sync::LazyLock<[u32; 256]> = std::sync::LazyLock::new(|| {
    let mut table = [0u32; 256];
    for (index, slot) in table.iter_mut().enumerate() {
        let mut crc = index as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ CRC32C_POLY
            } else {
                crc >> 1
            };
        }
        *slot = crc;
    }
    table
});

/// CRC32C of `data`. A byte-wise table is fast enough for warmup files
/// (read once per load) and saves a dependency.
pub fn crc32c(data: &[u8]) -> u32 {
    let table = &*CRC32C_TABLE;
    !data.iter().fold(!0u32, |crc, &byte| {
        table[((crc ^ u32::from(byte)) & 0xff) as usize] ^ (crc >> 8)
    })
}

/// TFRecord stores checksums masked, so that a CRC of data that itself
/// holds CRCs stays well distributed.
pub fn masked_crc32c(data: &[u8]) -> u32 {
    let crc = crc32c(data);
    (crc.rotate_right(15)).wrapping_add(0xa282_ead8)
}

/// Frames `data` as one TFRecord (what `tf.io.TFRecordWriter.write` writes).
pub fn encode_record(data: &[u8]) -> Vec<u8> {
    let length = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(HEADER_BYTES + data.len() + FOOTER_BYTES);
    out.extend_from_slice(&length);
    out.extend_from_slice(&masked_crc32c(&length).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc32c(data).to_le_bytes());
    out
}

/// Reads the records of a TFRecord stream one by one.
pub struct TfRecordReader<R> {
    input: R,
    offset_bytes: u64,
}

impl<R: Read> TfRecordReader<R> {
    pub fn new(input: R) -> Self {
        TfRecordReader {
            input,
            offset_bytes: 0,
        }
    }

    /// The next record's data; `None` at the end of the stream.
    ///
    /// Like TensorFlow's reader, a stream that ends inside a record's header
    /// counts as ended (TF Serving loads such a file, so tfprobe does too,
    /// with a warning); one that ends inside a record's data is truncated.
    pub fn next_record(&mut self) -> Result<Option<Vec<u8>>, TfRecordError> {
        let offset_bytes = self.offset_bytes;
        let mut header = Vec::with_capacity(HEADER_BYTES);
        self.read_up_to(&mut header, HEADER_BYTES as u64)?;
        // A whole header: the data's length (u64) and that length's masked CRC (u32).
        let Ok([length_bytes @ .., c0, c1, c2, c3]) = <[u8; HEADER_BYTES]>::try_from(&header[..])
        else {
            if !header.is_empty() {
                tracing::warn!(
                    "TFRecord stream ends with {} stray bytes at {offset_bytes}; ignored, as TensorFlow does",
                    header.len()
                );
            }
            return Ok(None);
        };
        if masked_crc32c(&length_bytes) != u32::from_le_bytes([c0, c1, c2, c3]) {
            return Err(TfRecordError::Corrupted {
                offset_bytes,
                part: "length",
            });
        }
        let length = u64::from_le_bytes(length_bytes);
        // Read what is there rather than allocating the claimed length first:
        // a wrong length must not allocate gigabytes.
        let mut data = Vec::new();
        let wanted_bytes = length.saturating_add(FOOTER_BYTES as u64);
        self.read_up_to(&mut data, wanted_bytes)?;
        if (data.len() as u64) < wanted_bytes {
            return Err(TfRecordError::Truncated {
                offset_bytes,
                length_bytes: length,
                available_bytes: data.len() as u64,
            });
        }
        let footer = data.split_off(data.len() - FOOTER_BYTES);
        if Some(masked_crc32c(&data)) != le_u32(&footer) {
            return Err(TfRecordError::Corrupted {
                offset_bytes,
                part: "data",
            });
        }
        Ok(Some(data))
    }

    /// Appends up to `limit_bytes` bytes to `out`; fewer only at the end of the stream.
    fn read_up_to(&mut self, out: &mut Vec<u8>, limit_bytes: u64) -> Result<(), TfRecordError> {
        let read = (&mut self.input)
            .take(limit_bytes)
            .read_to_end(out)
            .map_err(|source| TfRecordError::Io {
                offset_bytes: self.offset_bytes,
                source,
            })?;
        self.offset_bytes += read as u64;
        Ok(())
    }
}

/// A 4-byte little-endian u32; `None` for any other length.
fn le_u32(bytes: &[u8]) -> Option<u32> {
    bytes.try_into().ok().map(u32::from_le_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: &[u8]) -> Result<Vec<Vec<u8>>, TfRecordError> {
        let mut reader = TfRecordReader::new(bytes);
        let mut records = Vec::new();
        while let Some(record) = reader.next_record()? {
            records.push(record);
        }
        Ok(records)
    }

    #[test]
    fn crc32c_matches_the_standard_check_values() {
        // RFC 3720 (iSCSI) test vectors and the common "123456789" check value.
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8a91_36aa);
        assert_eq!(crc32c(&[0xffu8; 32]), 0x62a8_ab43);
    }

    #[test]
    fn records_are_framed_as_tensorflow_frames_them() {
        let framed = encode_record(b"hello");
        // Spelled as TensorFlow's crc32c::Mask, to check `masked_crc32c` against it.
        #[allow(clippy::manual_rotate)]
        let mask = |crc: u32| ((crc >> 15) | (crc << 17)).wrapping_add(0xa282_ead8);
        assert_eq!(framed[..8], 5u64.to_le_bytes());
        assert_eq!(framed[8..12], mask(crc32c(&framed[..8])).to_le_bytes());
        assert_eq!(&framed[12..17], b"hello");
        assert_eq!(framed[17..], mask(crc32c(b"hello")).to_le_bytes());
        assert_eq!(read_all(&framed).unwrap(), vec![b"hello".to_vec()]);
        // What tf.io.TFRecordWriter (TensorFlow 2.x) wrote for b"hello".
        let tf_written = [
            5, 0, 0, 0, 0, 0, 0, 0, 0xea, 0xb2, 0x04, 0x3e, b'h', b'e', b'l', b'l', b'o', 0xbb,
            0x1f, 0x1c, 0x19,
        ];
        assert_eq!(framed, tf_written);
    }

    #[test]
    fn round_trip_of_several_records_including_an_empty_one() {
        let records: Vec<Vec<u8>> = vec![b"one".to_vec(), Vec::new(), vec![7u8; 100_000]];
        let file: Vec<u8> = records.iter().flat_map(|r| encode_record(r)).collect();
        assert_eq!(read_all(&file).unwrap(), records);
        assert!(read_all(&[]).unwrap().is_empty());
    }

    #[test]
    fn a_flipped_bit_is_reported_with_its_offset() {
        let first = encode_record(b"first");
        let mut file = [first.clone(), encode_record(b"second")].concat();
        // A data byte of the second record.
        let at = first.len() + HEADER_BYTES + 2;
        file[at] ^= 0x10;
        let err = read_all(&file).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "corrupted record at {} (the checksum of its data does not match)",
                first.len()
            )
        );
        // Its length field.
        let mut file = encode_record(b"x");
        file[0] = 2;
        let err = read_all(&file).unwrap_err();
        assert!(matches!(
            err,
            TfRecordError::Corrupted {
                offset_bytes: 0,
                part: "length"
            }
        ));
    }

    #[test]
    fn truncation_inside_the_data_is_an_error_inside_the_header_an_end() {
        let file = [encode_record(b"whole"), encode_record(b"cut short")].concat();
        let second = encode_record(b"whole").len();
        let err = read_all(&file[..file.len() - 3]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "truncated record at {second} (its header announces 9 bytes of data and a 4-byte checksum; the file ends 10 bytes later)"
            )
        );
        // TensorFlow's reader takes a partial header for the end of the file.
        let records = read_all(&file[..second + 5]).unwrap();
        assert_eq!(records, vec![b"whole".to_vec()]);
    }
}
