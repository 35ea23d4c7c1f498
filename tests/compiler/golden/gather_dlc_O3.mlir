// gather after slc_to_dlc (O3, tmu)
func.func @gather(%table: memref<?x20xf32>, %ids: memref<?xi32>) -> (%out: memref<?x20xf32> {shape = [dim(ids, 0), 20]}) attributes {level = "dlc"} {
  %c16 = arith.constant 16 : index
  %ids_d0 = tensor.dim %ids {axis = 0} : index
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c20 = arith.constant 20 : index
  var.decl {name = "n0_counter", type = index, init = 0}
  dlc.access {
    %tu0, %n0 = dlc.new_tu %c0, %ids_d0 {parent = None, width = 1} : !dlc.tu, !slc.stream<index>
    %id = slc.mem_stream %ids, %n0 {tu = 0} : !slc.stream<index>
    %tu1, %d = dlc.new_tu %c0, %c20 {parent = 0, width = 16} : !dlc.tu, !slc.stream<vector<16xindex>>
    %v = slc.mem_stream %table, %id, %d {tu = 1} : !slc.stream<vector<16xf32>>
    %v_buf = slc.buf_stream %v {tu = 1} : !slc.stream<buffer<?xf32>>
    dlc.register_operand %tu1, %v_buf {event = "end"}
    dlc.register_callback %tu1 {event = "end", id = 1}
  }
  dlc.compute {
    dlc.case {id = 1, tu = 1, event = "end"} {
      %v_buf_1 = dlc.pop_operand : buffer<?xf32>
      %n0_1 = var.get {var = "n0_counter"} : index
      %d_mask = vector.mask %c0, %c20 : vector<16xi1>
      %v_1 = buffer.load %v_buf_1, %c0, %d_mask : vector<16xf32>
      vector.store %v_1, %out, %n0_1, %c0, %d_mask
      %d_mask_1 = vector.mask %c16, %c20 : vector<16xi1>
      %v_2 = buffer.load %v_buf_1, %c16, %d_mask_1 : vector<16xf32>
      vector.store %v_2, %out, %n0_1, %c16, %d_mask_1
      %n0_2 = var.get {var = "n0_counter"} : index
      %n0_next = arith.addi %n0_2, %c1 : index
      var.set %n0_next {var = "n0_counter"}
    }
  }
}
