//! What the translator records for `debug_info` when a function is
//! translated again to describe its frame (nothing in ordinary compiles):
//! every definition of a local, every breakable point and call with its
//! block and position, and the block parameters the translator made itself.

use cranelift_codegen::ir::Value;

use super::FuncTranslator;
use crate::debug_info::reaching::Def;
use crate::debug_info::PointRecord;

impl FuncTranslator<'_, '_> {
    fn point(&mut self, exit: bool) -> Option<PointRecord> {
        let block = self.b.current_block()?;
        let record = self.record.as_mut()?;
        Some(PointRecord { block, at: record.tick(), stack: self.stack.clone(), exit })
    }

    /// `local` now holds `value`.
    pub(super) fn record_def(&mut self, local: u32, value: Value) {
        let Some(block) = self.b.current_block() else { return };
        if let Some(record) = self.record.as_mut() {
            let at = record.tick();
            record.defs.push(Def { block, at, local, value });
        }
    }

    /// A breakable point, about to be guarded.
    pub(super) fn record_site(&mut self, exit: bool) {
        if let Some(point) = self.point(exit) {
            self.record.as_mut().expect("recording").sites.push(point);
        }
    }

    /// A call of a wasm function, just emitted.
    pub(super) fn record_call(&mut self) {
        let offset = self.offset as u32;
        if let Some(point) = self.point(false) {
            self.record.as_mut().expect("recording").calls.push((offset, point));
        }
    }

    /// A block parameter the translator made (not one of the frontend's,
    /// which carry locals).
    pub(super) fn record_explicit(&mut self, param: Value) {
        if let Some(record) = self.record.as_mut() {
            record.explicit_params.insert(param);
        }
    }
}
