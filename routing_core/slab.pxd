# Slabs: arrays of structs addressed by integer handles, with a stack of free handles.
# Requests, their group entries, operators and memberships each live in one.


ctypedef struct Req:
    int64_t seq           # submission order, the last tie-break of every queue
    double arrival        # also its queue key's source (req_key)
    double assigned_at
    double wait_since     # when it last started waiting: arrival, or an answered
                          # conversation's requeue, transfer or escalation
    int32_t prio
    hnd op                # operator holding it, or -1
    int32_t gen           # bumped each time it (re)enters the queue; stale timers skip it
    hnd first_entry       # eligible groups, in the order they were added
    hnd last_entry
    hnd act_prev          # neighbours in its operator's list of active conversations
    hnd act_next
    int32_t n_queued      # how many queues it sits in
    int32_t cat           # category (an index the bindings keep), or -1
    int32_t offers        # offers made so far: numbers the offer timers
    hnd excl              # operators who declined or let an offer expire (Excl list)
    int32_t charge        # slots it takes from its operator
    hnd sk                # required skills (a SkillReq), or -1
    hnd x                 # its ReqX (a preferred operator, transfers to an operator), or -1
    hnd res               # the operator reserved for it while it waits (hold), or -1
    int32_t ret_wait      # waits after an answer: numbers the retention timers
    int16_t ch
    int16_t home
    int16_t via           # group it was assigned through, or -1
    int8_t hold           # queued, of a channel that reserves (Channel.reserve)
    int8_t answered       # became active (assigned, or an offer accepted)
    int8_t leg_answered   # answered since it entered its current home group
    int8_t ret_next       # the next retention step
    int8_t state

ctypedef struct ReqX:     # what few requests use, kept apart to keep Req small: made on a
                          # request's first preferred operator or transfer to an operator,
                          # given back with the request (a Req without one reads as below)
    double prefer_until   # 0
    hnd prefer            # the operator it waits for until prefer_until: -1
    hnd xfer_to           # a pending transfer: the operator it moves to: -1
    hnd xfer_prev         # neighbours in that operator's list of incoming transfers
    hnd xfer_next
    int32_t xfer_n        # transfers made pending, numbering their timeout timers: 0
    int16_t xfer_group    # the group a pending transfer moves it into

ctypedef struct Entry:    # one eligible group of one request
    hnd req
    int32_t group
    int32_t pos           # position in the (group, channel) heap, or -1
    hnd next              # the request's next entry
    int32_t sub           # the queue's sub-heap it is in (RQueue.subs), -1: its own heap

ctypedef struct SkillReq: # skills a request requires: a bit per skill, and its level
    uint64_t mask
    uint8_t level[64]

ctypedef struct Excl:     # one operator a request may not be offered to again
    hnd op
    hnd next

ctypedef struct Op:
    int64_t reg           # registration order
    int64_t last_assign   # tick of the last assignment
    int64_t idle          # tick of the last assignment, release or return online
    int64_t handled       # assignments received
    int32_t limit
    int32_t load          # slots taken: active conversations and wrap-up
    int32_t wrap          # slots in wrap-up after a finish
    int32_t missed        # offers expired in a row
    hnd first_member      # memberships, in membership order
    hnd act_head          # active conversations, in assignment order
    hnd act_tail
    hnd in_head           # pending transfers to it, in the order asked
    hnd in_tail
    hnd res               # the waiting request it is reserved for (drains for), or -1
    hnd hold_head         # its live holds (Hold), in the order placed
    hnd hold_tail
    int8_t status
    int8_t alive
    int8_t kind           # 0 human, 1 bot
    int8_t zcap           # some channel cap is 0 (counted in g_cant while online)

ctypedef struct Hold:     # slots kept on an operator for a conversation the host places
    double until          # when it expires
    int64_t n             # its number (holds placed so far): stale timers skip it
    hnd op
    hnd prev              # neighbours in the operator's list of holds
    hnd next
    int32_t group         # asked through this group
    int32_t charge        # slots taken (the channel's cost)
    int16_t ch
    int8_t alive          # live (not ended)

ctypedef struct Member:   # one operator in one group
    int64_t join          # membership order across the router
    int64_t rr            # tick of the last assignment through this group
    double rand           # the random policy's draw
    int32_t level         # tier in this group (Group.level_step), 1 by default
    hnd op
    int32_t group
    int32_t pos           # position in the group's operator heap, or -1
    hnd next              # the operator's next membership

ctypedef struct Slab:     # the handle allocator shared by the slabs
    void* items
    int64_t cap
    int64_t used          # high-water mark of handles ever handed out
    hnd* free_list
    int64_t n_free
    int64_t free_cap
    size_t item

cdef int slab_init(Slab* s, size_t item) noexcept nogil
cdef void slab_dealloc(Slab* s) noexcept nogil
cdef int slab_reserve(Slab* s, int64_t n, int64_t* bytes) noexcept nogil
cdef hnd slab_take(Slab* s) noexcept nogil
cdef int slab_give(Slab* s, hnd h, int64_t* bytes) noexcept nogil
