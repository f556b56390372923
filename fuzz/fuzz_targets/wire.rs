//! Frame decoding: the first octet picks a link type, the rest is one frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use observer::DataLink;

const LINKS: [DataLink; 9] = [
    DataLink::ETHERNET,
    DataLink::RAW,
    DataLink::IPV6,
    DataLink::NULL,
    DataLink::LOOP,
    DataLink::LINUX_SLL,
    DataLink::LINUX_SLL2,
    DataLink::PPP,
    DataLink::IEEE802_11,
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, frame)) = data.split_first() else {
        return;
    };
    if let Ok(decoded) = wire::decode(frame) {
        let _ = wire::summary(&decoded);
        // An ICMPv6 message a host understood is built again as it was read.
        if let wire::EthPayload::Ipv6(ip) = &decoded.payload
            && matches!(ip.payload, wire::Ipv6Payload::Icmpv6(_))
        {
            let owned = decoded.clone().into_owned();
            let again = wire::decode(&owned.encode()).map(|f| f.into_owned());
            assert_eq!(again.as_ref(), Ok(&owned));
        }
    }
    let _ = wire::summary_of(frame);
    let _ = wire::decode_ipv4(frame);
    let _ = wire::summary_of_ipv4(frame);
    if let Ok(v6) = wire::Ipv6View::new_checked(frame) {
        let _ = v6.transport();
    }
    let link = LINKS[usize::from(pick) % LINKS.len()];
    let _ = observer::wrappings(link, frame);
    let _ = observer::ip_in(link, frame);
    let _ = timeline::dissect::tcp_fields(frame);
});
