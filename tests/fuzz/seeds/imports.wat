;; Seed: host imports, including one that suspends and one that traps, and a
;; start function.
(module
  (import "spectest" "print_i32" (func $print_i32 (param i32)))
  (import "spectest" "global_i32" (global $g i32))
  (import "spectest" "memory" (memory 1))
  (import "fuzz" "suspend" (func $suspend))
  (import "fuzz" "trap" (func $trap))
  (import "fuzz" "increment" (func $increment (param i32) (result i32)))
  (global $started (mut i32) (i32.const 0))
  (func $start (global.set $started (i32.const 1)))
  (start $start)
  (func (export "print") (call $print_i32 (global.get $g)))
  (func (export "suspend") (result i32)
    (call $suspend) (call $suspend) (call $increment (global.get $started)))
  (func (export "trap") (call $trap))
  (func (export "load") (result i32) (i32.load (i32.const 0))))
