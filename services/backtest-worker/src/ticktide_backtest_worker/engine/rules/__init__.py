"""Language strategies (`ticktide_common.rules`) in the engine: their series and
indicator rows computed once per grid (`series`), their rules compiled into the
bar loop once per shape (`codegen`, `kernel`), and run over a grid (`runner`)."""
