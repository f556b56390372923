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

/// The longest title and lesson text taken: a title is one line in a list, a lesson a page.
const MAX_TITLE: usize = 200;
const MAX_LESSON: usize = 20_000;

/// A title or lesson text of absurd length is refused where it is, not echoed whole.
fn texts_of_sane_length(src: &Source, spec: &FileSpec) -> Result<(), ScenarioError> {
    let title = spec.title.get_ref();
    if title.chars().count() > MAX_TITLE || title.contains('\n') {
        return Err(src.error(
            &spec.title,
            format!("a title of one line and at most {MAX_TITLE} characters (the lesson text takes the rest)"),
        ));
    }
    if spec.lesson.chars().count() > MAX_LESSON {
        let at = src.text.find("lesson").unwrap_or(0);
        return Err(src.error_at(
            at,
            format!("a lesson text of at most {MAX_LESSON} characters"),
        ));
    }
    Ok(())
}

/// A scenario with no host gives nothing to run: refused, not run to an empty capture.
fn something_to_run(src: &Source, hosts: &[crate::HostDef]) -> Result<(), ScenarioError> {
    if hosts.is_empty() {
        Err(src.error_at(
            0,
            "nothing to run: a scenario needs at least one host (`[hosts.NAME]` with an `ip`; \
             `packetlab lessons --copy DIR` writes out examples)",
        ))
    } else {
        Ok(())
    }
}

/// Parse a whole scenario file.
pub(crate) fn parse(path: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let src = Source { path, text };
    let spec: FileSpec = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        src.error_at(offset, e.message().trim().to_string())
    })?;
    texts_of_sane_length(&src, &spec)?;
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
    something_to_run(&src, &hosts)?;
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
