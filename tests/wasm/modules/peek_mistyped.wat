;; Imports provider.wat's peek with the wrong type: linking fails.
(module
  (import "provider" "peek" (func $peek (param i64) (result i32)))
)
