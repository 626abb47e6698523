//! Where debug code keeps locals at its breakable points, as the recompiled
//! description reports it.

use onecopy_jit::debug_info::Slot;
use onecopy_jit::{CodeArena, CompileConfig, Compiler, SiteKind, TypeRegistry};

fn compile(wat: &str) -> std::sync::Arc<onecopy_jit::CompiledModule> {
    let compiler = Compiler::new(CompileConfig { debug: true, ..CompileConfig::default() }).unwrap();
    let arena = CodeArena::new(1 << 24).unwrap();
    compiler.compile(&wat::parse_str(wat).unwrap(), &TypeRegistry::default(), &arena).unwrap()
}

#[test]
fn parameters_stay_readable_after_their_last_use() {
    let module = compile(
        r#"(module (func (param i32) (result i32) (local i32)
            local.get 0  i32.const 2  i32.mul  local.set 1
            local.get 1))"#,
    );
    let info = module.function_debug_info(0).unwrap();
    let sites = module.function_sites(0);
    let last = sites.iter().rposition(|s| s.kind == SiteKind::Instruction).unwrap() as u32;
    for local in 0..2 {
        let slot = info.local_at_site(last, local);
        assert!(matches!(slot, Slot::Located { shared: false, .. }), "local {local}: {slot:?}");
    }
}
