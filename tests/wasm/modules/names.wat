;; Names holding NUL bytes: exports that differ only after a NUL (names_user
;; imports one of them).
(module
  (global (export "g\00") i32 (i32.const 9))
  (func (export "f") (param i32 i64) (result i64) (i64.const 1))
  (func (export "f\00x") (param i32 i64) (result i64)
    (i64.add (i64.extend_i32_s (local.get 0)) (local.get 1)))
)
