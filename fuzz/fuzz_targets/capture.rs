//! Capture reading and the observer: any file given to `packetlab explain`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = observer::explain("fuzz.pcap", data);
    let options = observer::Options {
        ignore_checksums: true,
    };
    let _ = observer::explain_with("fuzz.pcap", data, options);
});
