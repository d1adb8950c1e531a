;; Self-test of build/spectest (run by selftest.sh): every command kind the
;; runner handles, with the commands marked FAIL failing on purpose, so that
;; the runner's counting of both outcomes is checked.

(module
  (import "spectest" "print_i32" (func $print_i32 (param i32)))
  (import "spectest" "print_f64_f64" (func $print_f64_f64 (param f64 f64)))
  (import "spectest" "global_i32" (global $g666 i32))
  (import "spectest" "table" (table 10 20 funcref))
  (import "spectest" "memory" (memory 1 2))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func (export "nan32") (result f32) (f32.div (f32.const 0) (f32.const 0)))
  (func (export "nan64") (result f64) (f64.const nan:0xc000000000000))
  (func (export "spin") (loop (br 0)))
  (func $recurse (export "recurse") (call $recurse))
  (func (export "id") (param externref) (result externref) (local.get 0))
  (func (export "two") (result i32 i64) (i32.const 1) (i64.const -1))
  (func (export "print") (call $print_i32 (global.get $g666))
    (call $print_f64_f64 (f64.const 1.5) (f64.const -2)))
  (func (export "memory_pages") (result i32) (memory.size))
  (global (export "g") i32 (i32.const 42))
)

(assert_return (invoke "add" (i32.const 1) (i32.const 2)) (i32.const 3))
(assert_return (invoke "add" (i32.const 1) (i32.const 2)) (i32.const 4)) ;; FAIL
(assert_return (invoke "add" (i32.const -1) (i32.const -1)) (i32.const -2))
(assert_return (invoke "nan32") (f32.const nan:canonical))
(assert_return (invoke "nan64") (f64.const nan:arithmetic))
(assert_return (invoke "nan64") (f64.const nan:canonical)) ;; FAIL
(assert_trap (invoke "div" (i32.const 1) (i32.const 0)) "integer divide by zero")
(assert_trap (invoke "add" (i32.const 1) (i32.const 0)) "unreachable") ;; FAIL
(assert_exhaustion (invoke "recurse") "call stack exhausted")
(assert_return (invoke "id" (ref.extern 7)) (ref.extern 7))
(assert_return (invoke "id" (ref.extern 7)) (ref.extern 8)) ;; FAIL
(assert_return (invoke "id" (ref.null extern)) (ref.null extern))
(assert_return (invoke "two") (i32.const 1) (i64.const -1))
(assert_return (get "g") (i32.const 42))
(assert_return (invoke "memory_pages") (i32.const 1))
(invoke "print")

(register "self")
(module $user
  (import "self" "add" (func $add (param i32 i32) (result i32)))
  (func (export "add3") (param i32) (result i32) (call $add (local.get 0) (i32.const 3)))
)
(assert_return (invoke $user "add3" (i32.const 4)) (i32.const 7))

(assert_invalid (module (func (result i32))) "type mismatch")
(assert_malformed (module binary "\00asm") "unexpected end")
(assert_malformed (module quote "(func") "unexpected end of input") ;; not applicable
(assert_unlinkable (module (import "spectest" "no_such_thing" (func))) "unknown import")
(assert_trap (module (func $start unreachable) (start $start)) "unreachable")
(assert_invalid (module (func (result i32) (i32.const 0))) "type mismatch") ;; FAIL

;; A module that does not link, and a use of it.
(module (import "spectest" "no_such_function" (func)) (func (export "f"))) ;; FAIL
(assert_return (invoke "f")) ;; FAIL

;; An endless loop runs out of the fuel budget (selftest.sh passes a small
;; one), which leaves its instance unusable.
(module $spinner (func (export "spin") (loop (br 0))) (func (export "one") (result i32) (i32.const 1)))
(invoke "spin") ;; FAIL
(assert_return (invoke "one") (i32.const 1)) ;; FAIL
