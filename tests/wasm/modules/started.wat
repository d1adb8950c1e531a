;; A start function and a data segment past the initial memory: both make an
;; instantiation that may fail (a trap), so it cannot be put off.
(module
  (memory 1)
  (data (i32.const 65535) "\01\02")
  (func $start)
  (start $start)
)
