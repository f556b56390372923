//! The timeline and the dissector: any capture or trace given to `packetlab step` or
//! `packetlab report`, every frame taken apart layer by layer.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use timeline::{StepKind, Timeline};

fn walk(timeline: &Timeline) {
    for step in &timeline.steps {
        let _ = step.describe(&timeline.columns);
        if let StepKind::Frame(frame) = &step.kind
            && let Some(bytes) = &frame.bytes
        {
            let _ = timeline::dissect::layers(bytes, frame.number, frame.len);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(timeline) = Timeline::from_capture(Path::new("fuzz.pcap"), data) {
        walk(&timeline);
    }
    if let Ok(timeline) = Timeline::from_trace(Path::new("fuzz.trace.jsonl"), data) {
        walk(&timeline);
    }
});
