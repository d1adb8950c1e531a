;; Its second data segment is out of bounds: instantiation traps after the
;; first one was written to the imported memory.
(module
  (import "provider" "mem" (memory 1))
  (data (i32.const 100) "\01")
  (data (i32.const 65535) "\02\03")
)
