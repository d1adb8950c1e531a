;; Imports provider.peek with the wrong type.
(module
  (import "provider" "peek" (func (param i64) (result i32)))
)
