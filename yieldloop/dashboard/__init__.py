"""`yieldloop dashboard`: the loop at a glance, live from Kafka — each line's rolling yield and
label-free signals, where the model aliases stand, every iteration (each opening its audit
page) and the dead letters. Server-rendered HTML and one small script; no build step."""
