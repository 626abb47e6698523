;; The interrupt check (the default, branch-free probe) at the function's
;; entry and at its loop's header: `mov rL, [vmctx+16]; mov rP, [rL+8];
;; movzx r, byte [rP]`, the last load faulting once the thread is interrupted.
;; disas: --func 0
(module
  (func (param i32) (result i32)
    (loop $l
      (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
    (local.get 0)))
