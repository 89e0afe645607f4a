# The node types the core keeps in heaps (heap.pyx is generic over them): the nodes of
# request queues, operator heaps, timers and the longest-waiting index, and the candidate
# positions of the best-first walks over the first two.

ctypedef struct RCand:        # a position in a request queue (RQueue.nodes)
    int64_t pos

ctypedef struct OCand:        # a position in an operator heap (OHeap.nodes)
    int64_t pos

ctypedef fused HNode:
    QNode
    ONode
    TNode
    AgeNode
    RCand
    OCand
