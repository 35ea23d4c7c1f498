// gather after promote_accumulators (O3, tmu)
func.func @gather(%table: memref<?x20xf32>, %ids: memref<?xi32>) -> (%out: memref<?x20xf32> {shape = [dim(ids, 0), 20]}) attributes {level = "slc"} {
  %c16 = arith.constant 16 : index
  %ids_d0 = tensor.dim %ids {axis = 0} : index
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c20 = arith.constant 20 : index
  var.decl {name = "n0_counter", type = index, init = 0}
  slc.for %n0 = %c0 to %ids_d0 step %c1 {
    %id = slc.mem_stream %ids, %n0 : !slc.stream<index>
    slc.for<16> %d = %c0 to %c20 step %c1 {
      %v = slc.mem_stream %table, %id, %d : !slc.stream<vector<16xf32>>
      %v_buf = slc.buf_stream %v : !slc.stream<buffer<?xf32>>
    }
    slc.callback {event = "end"} {
      %v_buf_1 = slc.to_val %v_buf : buffer<?xf32>
      %n0_1 = var.get {var = "n0_counter"} : index
      %d_mask = vector.mask %c0, %c20 : vector<16xi1>
      %v_1 = buffer.load %v_buf_1, %c0, %d_mask : vector<16xf32>
      vector.store %v_1, %out, %n0_1, %c0, %d_mask
      %d_mask_1 = vector.mask %c16, %c20 : vector<16xi1>
      %v_2 = buffer.load %v_buf_1, %c16, %d_mask_1 : vector<16xf32>
      vector.store %v_2, %out, %n0_1, %c16, %d_mask_1
    }
    slc.callback {event = "end"} {
      %n0_2 = var.get {var = "n0_counter"} : index
      %n0_next = arith.addi %n0_2, %c1 : index
      var.set %n0_next {var = "n0_counter"}
    }
  }
}
