mod common;
#[test]
fn sizes() {
    let engine = onecopy_runtime::Engine::new(&onecopy_runtime::Config::new().debug(true)).unwrap();
    for n in [8, 16, 32, 48, 64] {
        let t = std::time::Instant::now();
        let m = onecopy_runtime::Module::new(&engine, common::loops_module(n)).unwrap();
        eprintln!("{n}: {} bytes, {:?}", m.code_size(), t.elapsed());
    }
    eprintln!("{:?}", engine.code_memory());
}
