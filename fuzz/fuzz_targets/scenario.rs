//! The scenario parser: any text given to `packetlab run`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = scenario::parse_str("fuzz.toml", text);
    }
});
