//! QR codes as SVG (SPEC §8, `GET /events/{event_id}/tickets/{ticket_id}/qr` and the printable
//! page): a gate scanner reads back exactly the ticket id.
//!
//! The `qrcode` crate does the encoding (segments, error correction, masks); the SVG is drawn here,
//! one path of dark runs, so that none of the crate's renderers (nor an image library) ends up in
//! the static binary. The drawing is in module units (`viewBox`), black on an opaque white square,
//! with the four-module quiet zone ISO/IEC 18004 asks for, and `shape-rendering="crispEdges"` so
//! neither a printer nor a screen blurs the module edges; it scales to any size without loss.
//!
//! Text that is plain ASCII is encoded as the crate chooses (numeric, alphanumeric and byte
//! segments, the smallest symbol). Other text is one byte segment behind the ECI designator 26
//! (UTF-8): without it, the standard's default reading of bytes is ISO-8859-1, and scanners that
//! follow it would show `Ã©` for `é`.

use std::fmt::{self, Write as _};

use qrcode::bits::Bits;
use qrcode::{Color, EcLevel, QrCode, Version};

/// Error correction level M: up to 15% of the symbol may be smudged or torn and still read, the
/// usual choice for print; level H would make long ids too dense to print small.
const EC_LEVEL: EcLevel = EcLevel::M;

/// The light margin around the symbol, in modules.
const QUIET_ZONE: usize = 4;

/// The ECI designator for UTF-8.
const ECI_UTF8: u32 = 26;

/// The drawn size of one module, in CSS pixels, when nothing else sizes the image.
const MODULE_PX: usize = 8;

/// The text does not fit in the largest QR code (about 2.3 kB at level M). A ticket id (at most
/// 128 characters, so 512 bytes) always fits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooLong {
    /// The text's length in bytes.
    pub bytes: usize,
}

impl fmt::Display for TooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} bytes do not fit in a QR code at error correction level M",
            self.bytes
        )
    }
}

impl std::error::Error for TooLong {}

/// A standalone SVG document of a QR code whose content is exactly `text`. It can also be put as
/// it is into an HTML page, where CSS may size it.
pub fn svg(text: &str) -> Result<String, TooLong> {
    let code = encode(text)?;
    let modules = code.width();
    let side = modules + 2 * QUIET_ZONE;
    let colors = code.to_colors();
    let mut out = String::with_capacity(200 + modules * modules * 3);
    let px = side * MODULE_PX;
    // `write!` to a String cannot fail.
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{px}" height="{px}" viewBox="0 0 {side} {side}" shape-rendering="crispEdges"><rect width="{side}" height="{side}" fill="#fff"/><path fill="#000" d=""##
    );
    for (y, row) in colors.chunks(modules).enumerate() {
        let mut x = 0;
        while x < modules {
            if row[x] == Color::Light {
                x += 1;
                continue;
            }
            let start = x;
            while x < modules && row[x] == Color::Dark {
                x += 1;
            }
            let _ = write!(
                out,
                "M{} {}h{}v1h-{}z",
                start + QUIET_ZONE,
                y + QUIET_ZONE,
                x - start,
                x - start
            );
        }
    }
    out.push_str(r#""/></svg>"#);
    Ok(out)
}

/// The smallest QR code at [`EC_LEVEL`] holding `text`.
fn encode(text: &str) -> Result<QrCode, TooLong> {
    let too_long = || TooLong { bytes: text.len() };
    if text.is_ascii() {
        return QrCode::with_error_correction_level(text, EC_LEVEL).map_err(|_| too_long());
    }
    (1..=40)
        .find_map(|version| {
            let bits = utf8_bits(text, Version::Normal(version))?;
            QrCode::with_bits(bits, EC_LEVEL).ok()
        })
        .ok_or_else(too_long)
}

/// `text` as one UTF-8 byte segment of a symbol of `version`, or `None` when it does not fit.
fn utf8_bits(text: &str, version: Version) -> Option<Bits> {
    let mut bits = Bits::new(version);
    bits.push_eci_designator(ECI_UTF8).ok()?;
    bits.push_byte_data(text.as_bytes()).ok()?;
    bits.push_terminator(EC_LEVEL).ok()?;
    Some(bits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::process::Command;

    /// Renders `svg` to PNG with `rsvg-convert` and decodes it with `zbarimg`, as a scanner would;
    /// fails (never skips) when either tool is missing.
    fn decode(svg: &str, name: &str) -> String {
        let dir = scratch();
        let svg_path = dir.join(format!("{name}.svg"));
        let png_path = dir.join(format!("{name}.png"));
        std::fs::write(&svg_path, svg).unwrap();
        let rendered = Command::new("rsvg-convert")
            .arg("--background-color=white")
            .arg("-o")
            .arg(&png_path)
            .arg(&svg_path)
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", missing("rsvg-convert", "librsvg2-bin")));
        assert!(
            rendered.status.success(),
            "rsvg-convert: {}",
            String::from_utf8_lossy(&rendered.stderr)
        );
        let decoded = Command::new("zbarimg")
            .args(["--raw", "-q"])
            .arg(&png_path)
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", missing("zbarimg", "zbar-tools")));
        assert!(
            decoded.status.success(),
            "zbarimg found no code in {}: {}",
            png_path.display(),
            String::from_utf8_lossy(&decoded.stderr)
        );
        let mut text = String::from_utf8(decoded.stdout).expect("zbarimg printed UTF-8");
        // zbarimg ends each symbol it prints with a line break.
        assert_eq!(text.pop(), Some('\n'), "{text:?}");
        text
    }

    fn missing(tool: &str, package: &str) -> String {
        format!(
            "cannot run `{tool}`: the QR tests need it; install it with \
             `apt-get install -y {package}` (CI's .ci/run does)"
        )
    }

    fn scratch() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tixgo-qr-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn scanners_read_back_the_exact_text() {
        let longest: String = "aé€😀".repeat(32);
        assert_eq!(longest.chars().count(), 128);
        let mut mixed = String::new();
        for (i, c) in "Tiket-ÄÖÜ-日本語-🎫-x"
            .chars()
            .cycle()
            .take(128)
            .enumerate()
        {
            mixed.push(if i % 17 == 0 { ' ' } else { c });
        }
        let cases = [
            "TICKET123".to_owned(),
            "KK-7F3K-9QZ2-M4XD-H6TR-P".to_owned(),
            "7F3K-9QZ2-M4XD-H6TR-P".to_owned(),
            "ABCDEFGH-2345-6789-ABCD-EFGH-J".to_owned(),
            "0123456789".to_owned(),
            "t".to_owned(),
            "lower case, punctuation: <&>\"'!?".to_owned(),
            "Ayu Lestari – tiket VIP".to_owned(),
            "é".to_owned(),
            "x".repeat(128),
            longest,
            mixed,
        ];
        for (i, text) in cases.iter().enumerate() {
            let svg = svg(text).unwrap();
            assert_eq!(&decode(&svg, &format!("case{i}")), text, "case {i}");
        }
        std::fs::remove_dir_all(scratch()).unwrap();
    }

    #[test]
    fn a_standalone_black_on_white_document_with_a_quiet_zone() {
        let svg = svg("TICKET123").unwrap();
        assert!(svg.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg""#));
        assert!(svg.ends_with("</svg>"));
        assert!(svg.contains(r#"shape-rendering="crispEdges""#));
        // "TICKET123" is a version 1 symbol: 21 modules and 4 of quiet zone on each side.
        assert!(svg.contains(r#"viewBox="0 0 29 29""#), "{svg}");
        assert!(svg.contains(r##"<rect width="29" height="29" fill="#fff"/>"##));
        assert!(
            svg.contains(r##"<path fill="#000" d="M4 4h7v1h-7z"##),
            "{svg}"
        );
        // No dark module in the quiet zone.
        let path = &svg[svg.find(" d=\"").unwrap() + 4..svg.rfind('"').unwrap()];
        for run in path.split('z').filter(|r| !r.is_empty()) {
            let numbers: Vec<usize> = run
                .trim_start_matches('M')
                .split(['h', 'v', ' '])
                .filter_map(|n| n.trim_start_matches('-').parse().ok())
                .collect();
            let (x, y, len) = (numbers[0], numbers[1], numbers[2]);
            assert!(
                (4..25).contains(&x) && (4..25).contains(&y) && x + len <= 25,
                "{run}"
            );
        }
    }

    #[test]
    fn non_ascii_text_is_marked_as_utf8() {
        // ECI mode 0111, designator 26 as 00011010, then byte mode 0100 and the length 2.
        let bits = utf8_bits("é", Version::Normal(1)).unwrap().into_bytes();
        assert_eq!(bits[..3], [0b0111_0001, 0b1010_0100, 0b0000_0010]);
        assert_eq!(bits[3..5], [0xc3, 0xa9]);
        assert_eq!(encode("é").unwrap().version(), Version::Normal(1));
        // 20 bytes do not fit version 1 at level M (16 bytes at most), so version 2 is chosen.
        assert!(utf8_bits(&"é".repeat(10), Version::Normal(1)).is_none());
        assert_eq!(
            encode(&"é".repeat(10)).unwrap().version(),
            Version::Normal(2)
        );
    }

    #[test]
    fn text_too_long_for_any_code_is_an_error() {
        let text = "é".repeat(2_000);
        assert_eq!(svg(&text), Err(TooLong { bytes: 4_000 }));
        assert_eq!(svg(&"x".repeat(5_000)), Err(TooLong { bytes: 5_000 }));
        assert!(svg(&"é".repeat(512)).is_ok());
    }
}
