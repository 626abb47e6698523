;; Calls: a direct call to a defined function (named `<func 1>`), and a
;; call of an import (through the vmctx). Function 0 is the import.
;; disas: --func 2 --debug
(module
  (import "host" "log" (func (param i32)))
  (func (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func (param i32) (result i32)
    (call 0 (local.get 0))
    (call 1 (local.get 0))))
