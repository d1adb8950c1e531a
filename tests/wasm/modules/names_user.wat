;; Imports names whose field names hold a NUL byte (see names.wat).
(module
  (import "names" "f\00x" (func $imported (param i32 i64) (result i64)))
  (import "names" "g\00" (global $g i32))
  (func (export "call_imported") (result i64)
    (call $imported (global.get $g) (i64.const 33)))
)
