//! `--generate sites=N,locals=L[,live=D]`: a module of one function with
//! exactly N breakable points and L i32 locals, the shape that made debug
//! compile memory grow as sites x locals (issue 9): statement after
//! statement `(local.set A (i32.add (local.get B) (local.get 0)))`, A
//! walking through the locals and B the local written D statements
//! earlier (so about D values are live at each point; default 8), then
//! the xor of every local (every local's last value is live to the end,
//! and no statement is dead code, not even to normal code).

use std::fmt;
use std::str::FromStr;

use wasm_encoder::{CodeSection, ExportKind, ExportSection, Function, FunctionSection, TypeSection, ValType};

/// Breakable points besides the `local.set` statements: the final xor and
/// the exit (the entry is the first statement's point).
const OTHER_SITES: u32 = 2;

/// Values live at each point unless `live=` says otherwise.
const DEFAULT_LIVE: u32 = 8;

/// The generated function's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OneFunction {
    /// Breakable points, with the default `Breakable::Statements`.
    pub sites: u32,
    /// Locals, the one parameter included.
    pub locals: u32,
    /// How many statements back each statement's B was written.
    pub live: u32,
}

impl FromStr for OneFunction {
    type Err = String;

    fn from_str(text: &str) -> Result<OneFunction, String> {
        let (mut sites, mut locals, mut live) = (None, None, DEFAULT_LIVE);
        for part in text.split(',') {
            let (key, value) = part.split_once('=').ok_or_else(|| format!("{part:?}: expected KEY=N"))?;
            let value: u32 = value.trim().parse().map_err(|e| format!("{part:?}: {e}"))?;
            match key.trim() {
                "sites" => sites = Some(value),
                "locals" => locals = Some(value),
                "live" => live = value,
                other => return Err(format!("unknown key {other:?} (expected sites, locals, live)")),
            }
        }
        let (Some(sites), Some(locals)) = (sites, locals) else { return Err("expected sites=N,locals=L".into()) };
        // B must be another local than A: D below the declared locals.
        if sites <= OTHER_SITES || live == 0 || live >= locals.saturating_sub(1) {
            return Err(format!("expected sites > {OTHER_SITES} and 0 < live < locals - 1, got {text}"));
        }
        Ok(OneFunction { sites, locals, live })
    }
}

impl fmt::Display for OneFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sites={},locals={},live={}", self.sites, self.locals, self.live)
    }
}

impl OneFunction {
    /// How reports name the module.
    pub fn name(&self) -> String {
        format!("generated (one function: {} sites, {} i32 locals, {} live)", self.sites, self.locals, self.live)
    }

    /// The module: one exported function `f(i32) -> i32`.
    pub fn module(&self) -> Vec<u8> {
        let mut types = TypeSection::new();
        types.ty().function([ValType::I32], [ValType::I32]);
        let mut functions = FunctionSection::new();
        functions.function(0);
        let mut exports = ExportSection::new();
        exports.export("f", ExportKind::Func, 0);
        let mut code = CodeSection::new();
        code.function(&self.body());
        let mut module = wasm_encoder::Module::new();
        module.section(&types).section(&functions).section(&exports).section(&code);
        module.finish()
    }

    fn body(&self) -> Function {
        let declared = self.locals - 1;
        let mut func = Function::new([(declared, ValType::I32)]);
        let f = &mut func.instructions();
        // Statement k writes local 1 + k % declared; the one written `live`
        // statements earlier is `live` locals back (before any was written,
        // B reads a zero).
        let declared = u64::from(declared);
        let local = |k: u64| 1 + (k % declared) as u32;
        let back = declared - u64::from(self.live);
        for k in 0..u64::from(self.sites - OTHER_SITES) {
            f.local_get(local(k + back)).local_get(0).i32_add().local_set(local(k));
        }
        f.local_get(0);
        for l in 1..self.locals {
            f.local_get(l).i32_xor();
        }
        f.end();
        func
    }
}

#[cfg(test)]
mod tests {
    use super::OneFunction;

    #[test]
    fn parses_and_prints_its_spec() {
        let spec: OneFunction = "sites=100000,locals=1000".parse().unwrap();
        assert_eq!(spec, OneFunction { sites: 100_000, locals: 1000, live: 8 });
        assert_eq!(spec.to_string(), "sites=100000,locals=1000,live=8");
        assert_eq!(spec.to_string().parse::<OneFunction>(), Ok(spec));
        assert!("sites=2,locals=10".parse::<OneFunction>().is_err());
        assert!("sites=10,locals=10,live=9".parse::<OneFunction>().is_err());
        assert!("sites=10".parse::<OneFunction>().is_err());
        assert!("sites=10,locals=4,funcs=2".parse::<OneFunction>().is_err());
    }

    #[test]
    fn the_module_validates() {
        let wasm = OneFunction { sites: 50, locals: 7, live: 3 }.module();
        wasmparser::Validator::new().validate_all(&wasm).unwrap();
    }
}
