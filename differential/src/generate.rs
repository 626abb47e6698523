//! Valid modules from a seed, with wasm-smith limited to what onecopy
//! supports and every function made to terminate.

use arbitrary::Unstructured;
use wasm_smith::{Config, Module};

use crate::rng::Rng;

/// Fuel for wasm-smith's termination pass: decremented at every function
/// entry and loop header over the whole instance's life; at zero the code
/// executes `unreachable`. Enough for loops to run a while, small enough
/// that single-stepping every call stays quick.
pub const FUEL: u32 = 1_000;

/// Bytes of raw input drawn per module: wasm-smith stops choosing once
/// they run out, so this bounds a module's size.
const INPUT_BYTES: usize = 8 << 10;

/// The generator's settings: Wasm 2.0 without SIMD (onecopy's feature
/// set, see `onecopy_jit::features`), no imports (nothing to link against
/// in both engines alike), everything exported so that globals and memories
/// can be compared, and bounded memories and tables so that `memory.grow`
/// fails the same way in both engines rather than by running out of RAM.
pub fn config() -> Config {
    Config {
        simd_enabled: false,
        relaxed_simd_enabled: false,
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        exceptions_enabled: false,
        gc_enabled: false,
        tail_call_enabled: false,
        memory64_enabled: false,
        extended_const_enabled: false,
        wide_arithmetic_enabled: false,
        custom_page_sizes_enabled: false,
        compact_imports_enabled: false,
        custom_descriptors_enabled: false,
        multibyte_array_access_enabled: false,
        acquire_release_atomics_enabled: false,
        bulk_memory_enabled: true,
        reference_types_enabled: true,
        multi_value_enabled: true,
        saturating_float_to_int_enabled: true,
        sign_extension_ops_enabled: true,
        // NaN payloads are the engine's choice; canonical NaNs keep memory
        // contents comparable byte for byte.
        canonicalize_nans: true,
        max_imports: 0,
        export_everything: true,
        min_funcs: 1,
        // Without a type there can be no function: wasm-smith then makes
        // half of its modules functionless.
        min_types: 1,
        max_memories: 1,
        max_memory32_bytes: 16 << 20,
        memory_max_size_required: true,
        max_tables: 2,
        max_table_elements: 1_000,
        table_max_size_required: true,
        max_instructions: 200,
        ..Config::default()
    }
}

/// The module for `seed`, its termination fuel added; `Err` when
/// wasm-smith cannot build one from this seed's input.
pub fn module(seed: u64) -> arbitrary::Result<Vec<u8>> {
    let input = Rng::new(seed).bytes(INPUT_BYTES);
    let mut module = Module::new(config(), &mut Unstructured::new(&input))?;
    module.ensure_termination(FUEL).map_err(|_| arbitrary::Error::IncorrectFormat)?;
    Ok(module.to_bytes())
}
