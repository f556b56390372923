//! Capture reading and the observer: any file given to `packetlab explain`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Half the inputs (by their length, so no octet of the capture is spent on it) are read
    // as `--ignore-checksums` reads them.
    let options = observer::Options {
        ignore_checksums: data.len() % 2 == 1,
    };
    let _ = observer::explain_with("fuzz.pcap", data, options);
});
