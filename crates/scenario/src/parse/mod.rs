//! Reading a scenario file: TOML for the network, small line languages for programs and
//! expectations. Every error names `file:line:column` and what was expected.

mod expect;
mod network;
mod program;
mod python;
mod source;
mod spec;
mod values;

use trace::Time;

use crate::{Scenario, ScenarioError};
use network::{Cabling, Taken};
pub(crate) use source::Source;
use spec::FileSpec;
pub use values::{parse_cidr, parse_cidr6, parse_duration, parse_percent, parse_size};

/// Parse a whole scenario file.
pub(crate) fn parse(path: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let src = Source { path, text };
    let spec: FileSpec = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        src.error_at(offset, e.message().trim().to_string())
    })?;
    let seed = match &spec.seed {
        Some(s) if *s.get_ref() < 0 => {
            return Err(src.error(s, "the seed must be a whole number ≥ 0"));
        }
        Some(s) => *s.get_ref() as u64,
        None => 1,
    };
    let duration = match &spec.duration {
        Some(d) => parse_duration(d.get_ref()).map_err(|m| src.error(d, m))?,
        None => Time::from_secs(600),
    };
    let groups = network::groups(&src, &spec)?;
    let mut taken = Taken::default();
    let mut hosts = Vec::with_capacity(spec.hosts.len());
    for (name, host) in &spec.hosts {
        hosts.push(network::host(&src, &mut taken, name, host.get_ref())?);
    }
    let routers = spec
        .routers
        .iter()
        .map(|(name, r)| network::router(&src, &mut taken, name, r))
        .collect::<Result<Vec<_>, _>>()?;
    let links = Cabling::links(&src, &spec, &groups)?;
    let kernel = spec.kernel.as_ref().map(|k| k.get_ref());
    let kernel_ip = kernel
        .and_then(|k| parse_cidr(k.ip.get_ref()))
        .map(|(ip, _)| ip);
    let kernel_ip6 = kernel
        .and_then(|k| k.ip6.as_ref())
        .and_then(|text| values::parse_cidr6(text.get_ref()))
        .map(|(ip, _)| ip);
    let addresses = python::addresses(&hosts, &groups, (kernel_ip, kernel_ip6));
    for ((name, host), def) in spec.hosts.iter().zip(hosts.iter_mut()) {
        if let Some(program) = &host.get_ref().program {
            def.program = program::parse_program(&src, program, &addresses)?;
        }
        python::attach(&src, (name, host.get_ref()), def, &addresses)?;
    }
    let hosts = network::expand_groups(&src, &mut taken, hosts, &spec, &groups)?;
    let switches = network::switches(&src, &spec)?;
    let kernel = expect::kernel_lesson(&src, &spec, &hosts, &addresses)?;
    let expectations = match &spec.expect {
        Some(text) => {
            let known = expect::Known {
                hosts: &hosts,
                kernel: kernel.is_some(),
            };
            expect::parse_expectations(&src, text, known)?
        }
        None => Vec::new(),
    };
    Ok(Scenario {
        title: spec.title.into_inner(),
        lesson: spec.lesson,
        seed,
        duration,
        hosts,
        switches,
        routers,
        links,
        expectations,
        snaplen: None,
        kernel,
        workdir: None,
        capture: true,
    })
}
