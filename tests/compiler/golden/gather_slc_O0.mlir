// gather after decoupling (O0, tmu)
func.func @gather(%table: memref<?x20xf32>, %ids: memref<?xi32>) -> (%out: memref<?x20xf32> {shape = [dim(ids, 0), 20]}) attributes {level = "slc"} {
  %ids_d0 = tensor.dim %ids {axis = 0} : index
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c20 = arith.constant 20 : index
  slc.for %n0 = %c0 to %ids_d0 step %c1 {
    %id = slc.mem_stream %ids, %n0 : !slc.stream<index>
    slc.for %d = %c0 to %c20 step %c1 {
      %v = slc.mem_stream %table, %id, %d : !slc.stream<f32>
      slc.callback {event = "ite"} {
        %v_1 = slc.to_val %v : f32
        %n0_1 = slc.to_val %n0 : index
        %d_1 = slc.to_val %d : index
        memref.store %v_1, %out, %n0_1, %d_1
      }
    }
  }
}
