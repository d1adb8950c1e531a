;; Seed: integer and float arithmetic, comparisons and conversions.
(module
  (func (export "i32") (param i32) (result i32)
    (i32.add (i32.mul (local.get 0) (i32.const 7)) (i32.rotl (i32.const -3) (local.get 0))))
  (func (export "i64") (param i64) (result i64)
    (i64.xor (i64.shr_s (i64.const -100) (local.get 0)) (i64.popcnt (i64.const 0x0f0f))))
  (func (export "f32") (param f32) (result f32)
    (f32.sqrt (f32.add (local.get 0) (f32.const 2.5))))
  (func (export "f64") (param f64) (result f64)
    (f64.div (f64.nearest (local.get 0)) (f64.const 0)))
  (func (export "convert") (result i32)
    (i32.trunc_sat_f64_s (f64.convert_i64_u (i64.extend_i32_s (i32.const -1)))))
  (func (export "select") (param i32) (result i64)
    (select (i64.const 1) (i64.const 2) (local.get 0))))
