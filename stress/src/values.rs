//! Wasm values as text: printing results and parsing command-line arguments,
//! in the wasm text format's style (`55 : i32`, `nan:0x200000 : f32`).

use anyhow::{bail, Context, Result};
use onecopy_runtime::{Val, ValType};

/// `val` in wasm text style with its type, e.g. `55 : i32` or `-0.0 : f64`.
pub fn show(val: &Val) -> String {
    match val {
        Val::I32(v) => format!("{v} : i32"),
        Val::I64(v) => format!("{v} : i64"),
        Val::F32(bits) => format!("{} : f32", show_f32(*bits)),
        Val::F64(bits) => format!("{} : f64", show_f64(*bits)),
        Val::FuncRef(None) => "null : funcref".to_string(),
        Val::FuncRef(Some(_)) => "ref.func : funcref".to_string(),
        Val::ExternRef(None) => "null : externref".to_string(),
        Val::ExternRef(Some(r)) => format!("ref.extern {} : externref", r.0),
    }
}

/// Several values, comma separated, for messages.
pub fn show_all(vals: &[Val]) -> String {
    vals.iter().map(show).collect::<Vec<_>>().join(", ")
}

/// An f32 given by its bits: NaNs keep their payload, so a wrong NaN is visible.
pub fn show_f32(bits: u32) -> String {
    show_float(f32::from_bits(bits) as f64, bits as u64 & 0x7f_ffff, bits >> 31 == 1, format!("{:?}", f32::from_bits(bits)))
}

/// An f64 given by its bits.
pub fn show_f64(bits: u64) -> String {
    show_float(f64::from_bits(bits), bits & 0xf_ffff_ffff_ffff, bits >> 63 == 1, format!("{:?}", f64::from_bits(bits)))
}

/// Shared by both widths: `value` decides the class, `payload` is the mantissa
/// (a NaN's payload), `finite` is the number as Rust prints it.
fn show_float(value: f64, payload: u64, negative: bool, finite: String) -> String {
    let sign = if negative { "-" } else { "" };
    if value.is_nan() {
        format!("{sign}nan:{payload:#x}")
    } else if value.is_infinite() {
        format!("{sign}inf")
    } else {
        finite
    }
}

/// Parse a command-line argument as a value of type `ty`.
///
/// Integers are decimal or `0x` hex, optionally negative; an i32 may also be
/// written as its unsigned value (`0xffffffff`). Floats are decimal, `inf`,
/// `nan` or `nan:0xPAYLOAD`, each optionally signed. References: `null`.
pub fn parse(text: &str, ty: ValType) -> Result<Val> {
    let val = match ty {
        ValType::I32 => Val::I32(parse_int(text, i32::MIN as i128, u32::MAX as i128)? as i32),
        ValType::I64 => Val::I64(parse_int(text, i64::MIN as i128, u64::MAX as i128)? as i64),
        ValType::F32 => Val::F32(match parse_nan(text, 23, 8)? {
            Some(bits) => bits as u32,
            None => parse_decimal::<f32>(text)?.to_bits(),
        }),
        ValType::F64 => Val::F64(match parse_nan(text, 52, 11)? {
            Some(bits) => bits,
            None => parse_decimal::<f64>(text)?.to_bits(),
        }),
        ValType::FuncRef if text == "null" => Val::FuncRef(None),
        ValType::ExternRef if text == "null" => Val::ExternRef(None),
        ValType::FuncRef | ValType::ExternRef => bail!("a reference argument can only be `null`, not `{text}`"),
    };
    Ok(val)
}

/// An integer in `[min, max]`, decimal or hex.
fn parse_int(text: &str, min: i128, max: i128) -> Result<i128> {
    let (negative, digits) = split_sign(text);
    let digits = digits.replace('_', "");
    let magnitude = match digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        Some(hex) => i128::from_str_radix(hex, 16),
        None => digits.parse::<i128>(),
    }
    .with_context(|| format!("`{text}` is not an integer"))?;
    let value = if negative { -magnitude } else { magnitude };
    if value < min || value > max {
        bail!("`{text}` is out of range for this integer type");
    }
    Ok(value)
}

/// A decimal float (`1.5`, `-2e10`, `inf`).
fn parse_decimal<F: std::str::FromStr>(text: &str) -> Result<F> {
    text.parse::<F>().ok().with_context(|| format!("`{text}` is not a number"))
}

/// `nan` / `nan:0xPAYLOAD` (signed) as the bits of a float with
/// `mantissa_bits` mantissa and `exponent_bits` exponent bits, or `None` if
/// `text` is no NaN.
fn parse_nan(text: &str, mantissa_bits: u32, exponent_bits: u32) -> Result<Option<u64>> {
    let (negative, rest) = split_sign(text);
    let Some(rest) = rest.strip_prefix("nan") else { return Ok(None) };
    let quiet = 1u64 << (mantissa_bits - 1);
    let payload = match rest.strip_prefix(":0x") {
        Some(hex) => u64::from_str_radix(hex, 16).with_context(|| format!("bad NaN payload in `{text}`"))?,
        None if rest.is_empty() => quiet,
        None => bail!("`{text}` is not a number"),
    };
    let mantissa_mask = (1u64 << mantissa_bits) - 1;
    if payload == 0 || payload & !mantissa_mask != 0 {
        bail!("NaN payload of `{text}` must be non-zero and fit in {mantissa_bits} bits");
    }
    // A NaN's exponent is all ones; the sign bit sits above it.
    let exponent = ((1u64 << exponent_bits) - 1) << mantissa_bits;
    let sign = u64::from(negative) << (mantissa_bits + exponent_bits);
    Ok(Some(sign | exponent | payload))
}

/// A leading `-` or `+`, and the rest.
fn split_sign(text: &str) -> (bool, &str) {
    match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_in_both_bases_and_unsigned_i32() {
        assert!(matches!(parse("-5", ValType::I32).unwrap(), Val::I32(-5)));
        assert!(matches!(parse("0xffffffff", ValType::I32).unwrap(), Val::I32(-1)));
        assert!(matches!(parse("0x10", ValType::I64).unwrap(), Val::I64(16)));
        assert!(parse("0x100000000", ValType::I32).is_err());
    }

    #[test]
    fn floats_and_nans_round_trip_through_text() {
        let nan = parse("nan:0x200000", ValType::F32).unwrap();
        assert_eq!(show(&nan), "nan:0x200000 : f32");
        assert_eq!(show(&parse("-inf", ValType::F64).unwrap()), "-inf : f64");
        assert_eq!(show(&parse("1.5", ValType::F64).unwrap()), "1.5 : f64");
        assert_eq!(show(&parse("nan", ValType::F64).unwrap()), "nan:0x8000000000000 : f64");
    }
}
