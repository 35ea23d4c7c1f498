// gather after input (O0, tmu)
func.func @gather(%table: memref<?x20xf32>, %ids: memref<?xi32>) -> (%out: memref<?x20xf32> {shape = [dim(ids, 0), 20]}) attributes {level = "scf"} {
  %ids_d0 = tensor.dim %ids {axis = 0} : index
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c20 = arith.constant 20 : index
  scf.for %n0 = %c0 to %ids_d0 step %c1 {
    %id = memref.load %ids, %n0 : index
    scf.for %d = %c0 to %c20 step %c1 {
      %v = memref.load %table, %id, %d : f32
      memref.store %v, %out, %n0, %d
    }
  }
}
