//! Decompression of archives by their magic number: gzip, zstd, xz, or none.

use std::io::{self, Read};

/// Decompresses by magic number: gzip, zstd, xz or plain tar.
pub fn decompress<'r>(mut reader: Box<dyn Read + 'r>) -> io::Result<Box<dyn Read + 'r>> {
    let mut magic = [0u8; 6];
    let mut n = 0;
    while n < magic.len() {
        let m = reader.read(&mut magic[n..])?;
        if m == 0 {
            break;
        }
        n += m;
    }
    let chained: Box<dyn Read + 'r> = Box::new(io::Cursor::new(magic[..n].to_vec()).chain(reader));
    Ok(match &magic[..n] {
        [0x1f, 0x8b, ..] => Box::new(flate2::read::GzDecoder::new(chained)),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Box::new(zstd::stream::read::Decoder::new(chained)?),
        [0xfd, b'7', b'z', b'X', b'Z', 0x00] => {
            Box::new(liblzma::read::XzDecoder::new_multi_decoder(chained))
        }
        _ => chained,
    })
}

#[cfg(test)]
mod tests {
    use super::super::apply::apply;
    use super::super::testing::*;
    use super::*;
    use std::fs;

    #[test]
    fn decompress_detects_gzip_zstd_and_xz() {
        let tar = TarBuilder::new().file("f", "data", 0o644).done();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        io::Write::write_all(&mut gz, &tar).unwrap();
        let gz = gz.finish().unwrap();
        let zst = zstd::encode_all(&tar[..], 1).unwrap();
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 1);
        io::Write::write_all(&mut xz, &tar).unwrap();
        let xz = xz.finish().unwrap();
        for bytes in [tar.clone(), gz, zst, xz] {
            let t = tempfile::tempdir().unwrap();
            let r = decompress(Box::new(io::Cursor::new(bytes))).unwrap();
            apply(r, t.path(), &plain()).unwrap();
            assert_eq!(fs::read_to_string(t.path().join("f")).unwrap(), "data");
        }
    }
}
