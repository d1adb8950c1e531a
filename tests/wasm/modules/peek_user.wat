;; Imports only a function of provider.wat: an instantiation that can be put off.
(module
  (import "provider" "peek" (func $peek (param i32) (result i32)))
  (memory 1)
  (func (export "call_peek") (result i32) (call $peek (i32.const 0)))
)
