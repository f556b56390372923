//! A call's result checked as packetdrill checks it: the return value (a descriptor stands
//! for any), the errno, and the out parameters (getsockopt's value, poll's revents).

use crate::calls::{Got, field, value};
use crate::script::{Call, CallName, Expr};

/// Whether what a call returned is what the script says: `Err` says how it differs.
pub fn check(call: &Call, got: &Got) -> Result<(), String> {
    let expected = match (&call.result, &call.errno) {
        (Expr::Ellipsis, _) => None,
        (e, _) => Some(value(e).map_err(|r| r.0)?),
    };
    match got {
        Got::Errno(errno) => match (&call.errno, expected) {
            (Some(want), Some(-1) | None) if want == errno => Ok(()),
            (Some(want), _) => Err(format!("expected errno {want} but got {errno}")),
            (None, _) => Err(format!(
                "expected result {} but got -1 with errno {errno}",
                call.result
            )),
        },
        Got::Value(v, out) => {
            if let Some(want) = expected {
                if want != *v && !is_fd_result(call) {
                    return Err(format!("expected result {want} but got {v}"));
                }
            }
            if let Some(want) = &call.errno {
                return Err(format!("expected errno {want} but the call returned {v}"));
            }
            check_out(call, out)
        }
    }
}

fn is_fd_result(call: &Call) -> bool {
    matches!(call.name, CallName::Socket | CallName::Accept)
}

/// The out parameters: getsockopt's value, poll's revents.
fn check_out(call: &Call, out: &[i64]) -> Result<(), String> {
    match call.name {
        CallName::Getsockopt => {
            let Some(want) = call.args.get(3).filter(|e| **e != Expr::Ellipsis) else {
                return Ok(());
            };
            let got = out.first().copied().unwrap_or(0);
            let want = match field(want, "linger") {
                Some(secs) => {
                    let on = field(want, "onoff")
                        .map(value)
                        .transpose()
                        .map_err(|r| r.0)?
                        .unwrap_or(0);
                    if on == 0 {
                        -1
                    } else {
                        value(secs).map_err(|r| r.0)?
                    }
                }
                None => value(want).map_err(|r| r.0)?,
            };
            if got != want {
                return Err(format!("expected {} = {want} but got {got}", call.args[2]));
            }
            Ok(())
        }
        CallName::Poll => {
            let Some(Expr::List(items)) = call.args.first() else {
                return Ok(());
            };
            for (item, got) in items.iter().zip(out) {
                if let Some(want) = field(item, "revents") {
                    let want = value(want).map_err(|r| r.0)?;
                    if want != *got {
                        return Err(format!("expected revents {want:#x} but got {got:#x}"));
                    }
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}
