//! Direct, imported and indirect calls.
//!
//! Direct calls to the module's own functions are PC-relative (the module's
//! code is placed in one piece). Everything else goes through a `VMFuncRef`
//! reached from the vmctx, so no instance-specific address is in the code.

use cranelift_codegen::ir::{self, condcodes::IntCC, types, InstBuilder, Value};

use super::{ir_type, FuncTranslator};
use crate::env::wasm_signature;
use crate::trap::TrapKind;
use crate::vmctx::{funcref, table};

impl FuncTranslator<'_, '_> {
    fn signature_ref(&mut self, type_index: u32) -> ir::SigRef {
        let ty = &self.env.info.types[type_index as usize];
        self.b.import_signature(wasm_signature(self.env.isa, ty))
    }

    pub(super) fn call(&mut self, index: u32) {
        let type_index = self.env.info.funcs[index as usize];
        let n = self.env.info.types[type_index as usize].params.len();
        let mut args = vec![self.vmctx, self.vmctx];
        args.extend(self.pop_n(n));
        let sig = self.signature_ref(type_index);
        let call = if index >= self.env.info.imported_funcs {
            args[0] = self.vmctx;
            let callee = self.colocated_callee(index, sig);
            let callee = self.b.import_function(callee);
            self.b.ins().call(callee, &args)
        } else {
            let func = self.vmctx_load(self.env.layout.func(index));
            self.call_funcref(func, sig, args)
        };
        self.push_results(call, type_index);
    }

    /// A callee placed in this module's code (PC-relative call), by its
    /// index in calls between the module's functions; to be imported.
    pub(crate) fn colocated_callee(&mut self, index: u32, sig: ir::SigRef) -> ir::ExtFuncData {
        let name = self.b.func.declare_imported_user_function(ir::UserExternalName::new(0, index));
        ir::ExtFuncData { name: ir::ExternalName::User(name), signature: sig, colocated: true, patchable: false }
    }

    /// Call through a non-null `VMFuncRef`; `args[0]` is filled with its vmctx.
    fn call_funcref(&mut self, func: Value, sig: ir::SigRef, mut args: Vec<Value>) -> ir::Inst {
        let code = self.load_field(types::I64, func, funcref::CODE);
        args[0] = self.load_field(types::I64, func, funcref::VMCTX);
        self.b.ins().call_indirect(sig, code, &args)
    }

    pub(super) fn call_indirect(&mut self, type_index: u32, table_index: u32) {
        let index = self.pop();
        let n = self.env.info.types[type_index as usize].params.len();
        let mut args = vec![self.vmctx, self.vmctx];
        args.extend(self.pop_n(n));
        let slot = self.table_slot(table_index, index, TrapKind::UndefinedElement);
        let func = self.load_field(types::I64, slot, 0);
        self.b.ins().trapz(func, TrapKind::IndirectCallToNull.code());
        let actual = self.load_field(types::I32, func, funcref::TYPE_ID);
        let expected = self.env.type_ids[type_index as usize];
        let mismatch = self.b.ins().icmp_imm_s(IntCC::NotEqual, actual, expected as i64);
        self.trap_if(mismatch, TrapKind::BadSignature);
        let sig = self.signature_ref(type_index);
        let call = self.call_funcref(func, sig, args);
        self.push_results(call, type_index);
    }

    fn push_results(&mut self, call: ir::Inst, type_index: u32) {
        self.record_call();
        self.end_guard_group();
        let results = self.b.inst_results(call).to_vec();
        let tys = self.env.info.types[type_index as usize].results.clone();
        for (v, ty) in results.into_iter().zip(tys) {
            debug_assert_eq!(self.b.func.dfg.value_type(v), ir_type(ty));
            self.push(v, ty);
        }
    }

    /// Address of element `index` of table `table_index`, after a bounds check.
    pub(super) fn table_slot(&mut self, table_index: u32, index: Value, oob: TrapKind) -> Value {
        let def = self.vmctx_load(self.env.layout.table(table_index));
        let len = self.load_field(types::I32, def, table::LENGTH);
        let out = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, index, len);
        self.trap_if(out, oob);
        let base = self.load_field(types::I64, def, table::BASE);
        let index = self.b.ins().uextend(types::I64, index);
        let offset = self.b.ins().ishl_imm_u(index, 3);
        self.b.ins().iadd(base, offset)
    }
}
