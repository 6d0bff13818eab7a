package query

// WatchRebuilds has the model over src call started when a rebuild behind
// the readers starts and ended when it ends (installed or dropped).
func WatchRebuilds(src Source, started func(), ended func(installed bool)) {
	src.(*Model).hooks = modelHooks{started: started, ended: ended}
}
