//! The scenario file's TOML as written, each value with its position for error messages.

use std::collections::BTreeMap;

use std::fmt;

use serde::Deserialize as DeriveDeserialize;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use toml::Spanned;

#[derive(DeriveDeserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileSpec {
    pub(super) title: Spanned<String>,
    #[serde(default)]
    pub(super) lesson: String,
    pub(super) seed: Option<Spanned<i64>>,
    pub(super) duration: Option<Spanned<String>>,
    pub(super) expect: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) hosts: BTreeMap<String, Spanned<HostSpec>>,
    #[serde(default)]
    pub(super) switches: BTreeMap<String, Spanned<SwitchSpec>>,
    #[serde(default)]
    pub(super) routers: BTreeMap<String, Spanned<RouterSpec>>,
    #[serde(default)]
    pub(super) links: Vec<Spanned<CableSpec>>,
    pub(super) kernel: Option<Spanned<KernelSpec>>,
}

/// The Linux kernel at the other end of a TAP device, and the program it runs.
#[derive(DeriveDeserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct KernelSpec {
    pub(super) ip: Spanned<String>,
    /// An IPv6 address and prefix for the kernel side too.
    pub(super) ip6: Option<Spanned<String>>,
    /// The program file, relative to the scenario file.
    pub(super) python: Spanned<String>,
    pub(super) args: Option<Vec<Spanned<String>>>,
    pub(super) stdin: Option<Spanned<String>>,
}

#[derive(DeriveDeserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HostSpec {
    pub(super) mac: Spanned<String>,
    pub(super) ip: Spanned<String>,
    /// Several hosts alike: NAME1…NAMEn, MAC and IP counted up from these.
    pub(super) count: Option<Spanned<i64>>,
    pub(super) gateway: Option<Spanned<String>>,
    /// IPv6 addresses with prefix lengths, like "2001:db8:1::10/64".
    pub(super) ip6: Option<Vec<Spanned<String>>>,
    /// The default IPv6 router.
    pub(super) gateway6: Option<Spanned<String>>,
    /// Form IPv6 addresses from a router's advertisements (SLAAC).
    pub(super) slaac: Option<bool>,
    /// Check IPv6 addresses for duplicates before using them (DAD).
    pub(super) dad: Option<bool>,
    pub(super) msl: Option<Spanned<String>>,
    pub(super) mtu: Option<Spanned<i64>>,
    pub(super) recv_buffer: Option<Spanned<i64>>,
    pub(super) send_buffer: Option<Spanned<i64>>,
    pub(super) engine: Option<Spanned<String>>,
    pub(super) tap: Option<Spanned<String>>,
    pub(super) min_rto: Option<Spanned<String>>,
    /// Whose reading of the RFCs: "rfc" (the default) or "linux".
    pub(super) profile: Option<Spanned<String>>,
    /// "reno" or "cubic".
    pub(super) congestion: Option<Spanned<String>>,
    /// Half-open connections a listener keeps (Linux's tcp_max_syn_backlog).
    pub(super) syn_backlog: Option<Spanned<i64>>,
    /// Selective acknowledgments (RFC 2018), on unless `false`.
    pub(super) sack: Option<bool>,
    /// Timestamps (RFC 7323), on unless `false`.
    pub(super) timestamps: Option<bool>,
    /// SYN cookies when the SYN queue is full, on unless `false`.
    pub(super) syncookies: Option<bool>,
    pub(super) program: Option<Spanned<String>>,
    /// A Python program file to run instead of a `program`, relative to the scenario file.
    pub(super) python: Option<Spanned<String>>,
    pub(super) args: Option<Vec<Spanned<String>>>,
    pub(super) stdin: Option<Spanned<String>>,
}

/// The faults of one direction of a link, as written: on a cable for both directions, or in
/// its `up`/`down` (`a_to_b`/`b_to_a`) table for one. Declared once; every cable reads its
/// fault fields through [`FaultSpec::take`].
#[derive(Default, Clone)]
pub(super) struct FaultSpec {
    pub(super) jitter: Option<Spanned<String>>,
    pub(super) loss: Option<Spanned<String>>,
    pub(super) drop: Option<Spanned<Vec<i64>>>,
    pub(super) reorder: Option<Spanned<String>>,
    pub(super) reorder_delay: Option<Spanned<String>>,
    pub(super) duplicate: Option<Spanned<String>>,
    pub(super) corrupt: Option<Spanned<String>>,
    pub(super) rate: Option<Spanned<String>>,
    pub(super) queue: Option<Spanned<i64>>,
}

const FAULT_FIELDS: &[&str] = &[
    "jitter",
    "loss",
    "drop",
    "reorder",
    "reorder_delay",
    "duplicate",
    "corrupt",
    "rate",
    "queue",
];

/// A table read key by key: each key's value goes into its field, and a key that is no field
/// is an error that lists the fields.
trait Fields: Default {
    /// Every field's name.
    const NAMES: &'static [&'static str];
    /// What the table is, for serde's messages.
    const WHAT: &'static str;
    /// Read the value of `key` into its field; false when `key` is not a field.
    fn take<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error>;
}

struct FieldsVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Fields> Visitor<'de> for FieldsVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(T::WHAT)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut table = T::default();
        while let Some(key) = map.next_key::<String>()? {
            if !table.take(&key, &mut map)? {
                return Err(de::Error::unknown_field(&key, T::NAMES));
            }
        }
        Ok(table)
    }
}

impl<'de> Deserialize<'de> for FaultSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(FieldsVisitor(std::marker::PhantomData))
    }
}

impl<'de> Deserialize<'de> for CableSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(FieldsVisitor(std::marker::PhantomData))
    }
}

impl Fields for FaultSpec {
    const NAMES: &'static [&'static str] = FAULT_FIELDS;
    const WHAT: &'static str = "a table of faults for one direction";
    fn take<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "jitter" => self.jitter = Some(map.next_value()?),
            "loss" => self.loss = Some(map.next_value()?),
            "drop" => self.drop = Some(map.next_value()?),
            "reorder" => self.reorder = Some(map.next_value()?),
            "reorder_delay" => self.reorder_delay = Some(map.next_value()?),
            "duplicate" => self.duplicate = Some(map.next_value()?),
            "corrupt" => self.corrupt = Some(map.next_value()?),
            "rate" => self.rate = Some(map.next_value()?),
            "queue" => self.queue = Some(map.next_value()?),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

impl FaultSpec {
    /// These faults with the fields `over` sets replaced.
    pub(super) fn overridden_by(&self, over: &FaultSpec) -> FaultSpec {
        fn pick<T: Clone>(over: &Option<T>, base: &Option<T>) -> Option<T> {
            over.clone().or_else(|| base.clone())
        }
        FaultSpec {
            jitter: pick(&over.jitter, &self.jitter),
            loss: pick(&over.loss, &self.loss),
            drop: pick(&over.drop, &self.drop),
            reorder: pick(&over.reorder, &self.reorder),
            reorder_delay: pick(&over.reorder_delay, &self.reorder_delay),
            duplicate: pick(&over.duplicate, &self.duplicate),
            corrupt: pick(&over.corrupt, &self.corrupt),
            rate: pick(&over.rate, &self.rate),
            queue: pick(&over.queue, &self.queue),
        }
    }
}

#[derive(DeriveDeserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SwitchSpec {
    pub(super) links: Vec<Spanned<CableSpec>>,
    /// How long a MAC table entry lives unrefreshed (default 300 s).
    pub(super) aging: Option<Spanned<String>>,
}

#[derive(DeriveDeserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RouterSpec {
    /// Cables like a switch's, each with the port's addresses.
    pub(super) ports: Vec<Spanned<CableSpec>>,
    #[serde(default)]
    pub(super) routes: Vec<Spanned<String>>,
}

/// A cable as written: a `[[links]]` entry (`a`, `b`, `a_to_b`, `b_to_a`) or a port of a
/// switch or a router (`to`, `up`, `down`; a router's port also `mac` and `ip`). Which fields
/// belong where is checked after reading, with the position of the field out of place.
#[derive(Default)]
pub(super) struct CableSpec {
    pub(super) a: Option<Spanned<String>>,
    pub(super) b: Option<Spanned<String>>,
    pub(super) to: Option<Spanned<String>>,
    /// A router port's MAC.
    pub(super) mac: Option<Spanned<String>>,
    /// A router port's address and prefix.
    pub(super) ip: Option<Spanned<String>>,
    /// A router port's IPv6 addresses and prefixes.
    pub(super) ip6: Option<Vec<Spanned<String>>>,
    /// A router port's link MTU.
    pub(super) mtu: Option<Spanned<i64>>,
    pub(super) delay: Option<Spanned<String>>,
    /// Faults both ways.
    pub(super) faults: FaultSpec,
    /// From the far node up to the switch or router.
    pub(super) up: Option<Spanned<FaultSpec>>,
    /// From the switch or router down to the far node.
    pub(super) down: Option<Spanned<FaultSpec>>,
    pub(super) a_to_b: Option<Spanned<FaultSpec>>,
    pub(super) b_to_a: Option<Spanned<FaultSpec>>,
}

const CABLE_FIELDS: &[&str] = &[
    "a",
    "b",
    "to",
    "mac",
    "ip",
    "ip6",
    "mtu",
    "delay",
    "jitter",
    "loss",
    "drop",
    "reorder",
    "reorder_delay",
    "duplicate",
    "corrupt",
    "rate",
    "queue",
    "up",
    "down",
    "a_to_b",
    "b_to_a",
];

impl CableSpec {
    /// The faults of each direction: the cable's own, with each direction's table over them.
    /// Directions are (a→b, b→a) on a link, (up, down) on a port.
    pub(super) fn directions(&self) -> [FaultSpec; 2] {
        let [first, second] = if self.to.is_some() {
            [&self.up, &self.down]
        } else {
            [&self.a_to_b, &self.b_to_a]
        };
        let over = |d: &Option<Spanned<FaultSpec>>| {
            d.as_ref().map_or_else(
                || self.faults.clone(),
                |d| self.faults.overridden_by(d.get_ref()),
            )
        };
        [over(first), over(second)]
    }
}

impl Fields for CableSpec {
    const NAMES: &'static [&'static str] = CABLE_FIELDS;
    const WHAT: &'static str = "a table describing a cable";
    fn take<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "a" => self.a = Some(map.next_value()?),
            "b" => self.b = Some(map.next_value()?),
            "to" => self.to = Some(map.next_value()?),
            "mac" => self.mac = Some(map.next_value()?),
            "ip" => self.ip = Some(map.next_value()?),
            "ip6" => self.ip6 = Some(map.next_value()?),
            "mtu" => self.mtu = Some(map.next_value()?),
            "delay" => self.delay = Some(map.next_value()?),
            "up" => self.up = Some(map.next_value()?),
            "down" => self.down = Some(map.next_value()?),
            "a_to_b" => self.a_to_b = Some(map.next_value()?),
            "b_to_a" => self.b_to_a = Some(map.next_value()?),
            _ => return self.faults.take(key, map),
        }
        Ok(true)
    }
}
