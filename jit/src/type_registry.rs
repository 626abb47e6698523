//! Engine-wide signature ids, so `call_indirect` can compare signatures of
//! functions from different modules with one integer compare.

use std::collections::HashMap;

use parking_lot::RwLock;

use crate::types::FuncType;

/// Interns function types to dense ids shared by every module of an engine.
#[derive(Default)]
pub struct TypeRegistry {
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    ids: HashMap<FuncType, u32>,
    types: Vec<FuncType>,
}

impl TypeRegistry {
    /// The id of `ty`, assigning a new one on first sight.
    pub fn intern(&self, ty: &FuncType) -> u32 {
        if let Some(id) = self.inner.read().ids.get(ty) {
            return *id;
        }
        let mut inner = self.inner.write();
        if let Some(id) = inner.ids.get(ty) {
            return *id;
        }
        let id = inner.types.len() as u32;
        inner.types.push(ty.clone());
        inner.ids.insert(ty.clone(), id);
        id
    }

    /// The type behind an id.
    pub fn get(&self, id: u32) -> Option<FuncType> {
        self.inner.read().types.get(id as usize).cloned()
    }
}
