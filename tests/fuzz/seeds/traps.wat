;; Seed: each kind of trap.
(module
  (memory 1 1)
  (func (export "unreachable") unreachable)
  (func (export "divide") (param i32) (result i32) (i32.div_s (i32.const 1) (local.get 0)))
  (func (export "overflow") (result i32) (i32.div_s (i32.const 0x80000000) (i32.const -1)))
  (func (export "out_of_bounds") (result i64) (i64.load (i32.const 65535)))
  (func (export "truncate") (result i32) (i32.trunc_f32_s (f32.const nan)))
  (func $recurse (export "recurse") (param i32) (result i32)
    (call $recurse (i32.add (local.get 0) (i32.const 1)))))
