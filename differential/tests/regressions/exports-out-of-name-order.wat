;; Seed 1172 and many after it (first campaign): globals exported in an
;; order that is not their names' order. wasmi lists an instance's exports
;; sorted by name, onecopy in module order; the comparison must not care.
(module
  (global (export "z") (mut i32) (i32.const 1))
  (global (export "a") (mut i64) (i64.const 2))
  (global (export "m") f32 (f32.const 3))
  (memory (export "mem") 1 1)
  (func (export "set") (param i32)
    (global.set 0 (local.get 0))
    (i32.store8 (i32.const 9) (local.get 0))))
