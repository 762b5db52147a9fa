#!/usr/bin/env bash
# Regenerates the talk-off corpus (speech and music, 8 kHz μ-law WAV). Needs espeak-ng and sox
# (Debian packages). Output is deterministic for a given espeak-ng/sox version; the committed
# files were made with espeak-ng 1.51 and SoX 14.4.2 on Debian 12.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
text="$tmp/text.txt"
cat > "$text" <<'TXT'
Nine one one, what is the address of your emergency? There is a fire in the kitchen of the house
at four hundred and twelve Maple Street, and my father is still inside. Please send the fire
department and an ambulance right away. Is anyone hurt? He fell down the stairs, he is breathing
but he will not wake up. Stay on the line with me, help is on the way. The caller reports smoke
coming from the second floor window and a strong smell of gas in the basement. Can you tell me
your callback number in case we get disconnected? My number is nine one nine, five five five,
one two three four. Do not go back into the building. The police are three minutes away and the
engine company from station seven has been dispatched. Weather tonight: heavy rain, winds from
the northwest at twenty five miles per hour, temperatures falling to near freezing by morning.
Ladies and gentlemen, the train now arriving on platform two is the eight fifteen express service
to Raleigh, calling at Cary, Apex and Durham. Please mind the gap between the train and the platform.
Operator, I would like to place a collect call to Chicago. One moment please, I will connect you.
The quick brown fox jumps over the lazy dog while the seven silver swans swim slowly south.
Sally sells seashells by the seashore, and she shouts and sings and whistles all day long.
Ooh, aah, eee, ohh, mmm, hmm, yes, yes, no, no, okay, alright, hello, hello, can you hear me now?
TXT
i=0
for voice in en-us en-gb en-us+f3 en-gb-scotland en-029 en-us+m7 en-gb-x-rp en-us+f5; do
  i=$((i+1))
  speed=$((130 + (i * 13) % 70))
  espeak-ng -v "$voice" -s "$speed" -p $((30 + (i * 7) % 50)) -w "$tmp/s$i.wav" -f "$text"
done
# Levels: about −14, −20 and −26 dBm0 average speech, and a hot talker at −8 (peaks near clipping).
gains=(-3 -9 -15 0 -6 -12 -18 -4)
parts=()
for n in $(seq 1 $i); do
  g=${gains[$((n-1))]}
  # 40 s of each voice, from a different place in the text.
  sox "$tmp/s$n.wav" -r 8000 -c 1 -b 16 "$tmp/p$n.wav" trim $(( (n * 11) % 60 )) 40 norm "$g"
  parts+=("$tmp/p$n.wav")
done
sox "${parts[@]}" -e mu-law -b 8 -r 8000 -c 1 speech.wav
# Music: chords of three or more notes with harmonics (plucked strings, triangle and square
# waves, vibrato, tremolo) and glides across the MF/DTMF band under a triad, 1–2 s each. Pure
# two-sine dyads and pure-sine glides are left out on purpose: two steady sines that land within ±2.5 % of a signal's
# pair *are* that signal to any receiver (signalling.md §6 notes A5+E6 ≈ MF 5), not talk-off.
m=()
notes=(C4 E4 G4 A4 C5 E5 G5 A5 D5 F5 B4 D6 E6 A3)
k=0
for a in 0 1 2 3 4 5 6 7 8 9 10 11; do
  for b in 3 4 5 7; do
    k=$((k+1))
    n1=${notes[$(( (a) % 14 ))]}; n2=${notes[$(( (a+b) % 14 ))]}; n3=${notes[$(( (a+2*b) % 14 ))]}
    case $((k % 4)) in
      0) sox -n -r 8000 -c 1 -b 16 "$tmp/m$k.wav" synth 1.2 pluck "$n1" pluck "$n2" pluck "$n3" remix - norm -6 ;;
      1) sox -n -r 8000 -c 1 -b 16 "$tmp/m$k.wav" synth 1.5 triangle "$n1" square "$n2" triangle "$n3" remix - fade 0.05 1.5 0.2 lowpass 3000 norm -10 ;;
      2) sox -n -r 8000 -c 1 -b 16 "$tmp/m$k.wav" synth 2 triangle "$n1" pluck "$n2" sawtooth "$n3" remix - tremolo 5 40 lowpass 3000 norm -12 ;;
      3) sox -n -r 8000 -c 1 -b 16 "$tmp/m$k.wav" synth 1.0 sawtooth 600-1800 pluck "$n2" pluck "$n3" remix - lowpass 3000 norm -8 ;;
    esac
    m+=("$tmp/m$k.wav")
  done
done
sox "${m[@]}" -e mu-law -b 8 -r 8000 -c 1 music.wav
# Voices: the larger, multi-language corpus (issue 18). Twelve languages, each spoken twice by
# espeak-ng with a different voice variant (male, female, Klatt formant and character voices),
# speed (110–255 wpm) and pitch, 70 s each (the text said three times over, then cut): 28 min.
# Telephone band (sinc 300–3400 Hz), every piece normalised to peaks at −1 dBFS (a loud talker),
# stored after μ-law: the receivers hear it as a trunk would.
declare -A T
T[en-us]="Nine one one, what is your emergency? My neighbour's house is on fire and I can hear the smoke alarm going off. The address is two hundred and seventy Oak Ridge Road, apartment fourteen. Is anybody still inside? I think the old man who lives there is asleep upstairs. Okay, stay on the line, the fire department is on its way. Do not go into the building. Can you see any flames? Yes, there are flames in the front window and the smoke is black. Three, four, five, six, seven, eight, nine, zero. Please hurry."
T[es-419]="Nueve uno uno, ¿cuál es su emergencia? Hay un accidente en la carretera cerca del puente, dos coches chocaron y un hombre está sangrando mucho. ¿Está respirando? Sí, respira pero no contesta. No lo mueva, la ambulancia ya va en camino. ¿Me puede dar la dirección exacta? Calle Real número cuatrocientos doce, frente a la farmacia. Uno, dos, tres, cuatro, cinco, seis, siete, ocho, nueve, cero. Quédese en la línea conmigo, por favor."
T[fr-fr]="Allô, les pompiers? Il y a une fuite de gaz dans l'immeuble, ça sent très fort dans l'escalier. Quelle est votre adresse? Douze rue de la République, au troisième étage, porte gauche. Sortez tous de l'immeuble et n'allumez surtout pas la lumière. Est-ce que quelqu'un est blessé? Non, mais ma voisine âgée ne répond pas à la porte. Un, deux, trois, quatre, cinq, six, sept, huit, neuf, zéro. Les secours arrivent dans cinq minutes, restez calme."
T[de]="Notruf, Feuerwehr und Rettungsdienst, wo genau ist der Notfallort? Hauptstraße siebzehn, im Hinterhof, mein Vater ist von der Leiter gefallen und bewegt sich nicht mehr. Atmet er noch? Ja, aber sehr langsam und er blutet am Kopf. Bewegen Sie ihn nicht, der Rettungswagen ist unterwegs. Bleiben Sie bitte am Telefon. Eins, zwei, drei, vier, fünf, sechs, sieben, acht, neun, null. Wie ist Ihre Rückrufnummer, falls die Verbindung abbricht?"
T[it]="Pronto, centodiciotto, qual è l'emergenza? Mia madre ha un forte dolore al petto e non riesce a respirare bene. Quanti anni ha? Settantadue anni, e prende medicine per il cuore. Qual è l'indirizzo? Via Garibaldi numero trentatré, secondo piano, citofono Rossi. Mandiamo subito un'ambulanza, la faccia sedere e apra la porta. Uno, due, tre, quattro, cinque, sei, sette, otto, nove, zero. Resti in linea con me, per favore."
T[pt-br]="Alô, é da emergência? Tem um homem caído na calçada em frente à padaria, ele não está se mexendo. Ele está respirando? Acho que sim, mas está muito pálido e suando. Qual é o endereço? Rua das Flores, número cento e vinte, no centro da cidade. A ambulância já foi enviada, não saia de perto dele. Um, dois, três, quatro, cinco, seis, sete, oito, nove, zero. Pode me passar um número para retorno?"
T[pl]="Numer alarmowy, słucham, co się stało? Na skrzyżowaniu przewrócił się rowerzysta i uderzył głową o krawężnik. Czy jest przytomny? Tak, ale jest bardzo zdezorientowany i krwawi z nosa. Gdzie dokładnie pan jest? Ulica Mickiewicza przy szkole podstawowej numer trzy. Karetka już jedzie, proszę go nie ruszać. Jeden, dwa, trzy, cztery, pięć, sześć, siedem, osiem, dziewięć, zero. Proszę pozostać na linii."
T[ru]="Служба спасения, что у вас случилось? У нас в подъезде сильный дым, кажется, горит квартира на пятом этаже. Какой у вас адрес? Улица Ленина, дом сорок два, второй подъезд. Все ли вышли из здания? Нет, там ещё пожилая женщина с собакой. Пожарные уже выехали, не пользуйтесь лифтом. Один, два, три, четыре, пять, шесть, семь, восемь, девять, ноль. Оставайтесь на линии, пожалуйста."
T[hi]="आपातकालीन सेवा, बताइए क्या हुआ है? हमारे घर के पास एक बस पलट गई है और कई लोग घायल हैं। आप कहाँ से बोल रहे हैं? गांधी नगर, पुराने बस अड्डे के पास, मंदिर के सामने। एम्बुलेंस और पुलिस रास्ते में हैं, घायलों को मत हिलाइए। एक, दो, तीन, चार, पाँच, छह, सात, आठ, नौ, शून्य। कृपया फ़ोन पर बने रहिए।"
T[cmn]="您好，这里是急救中心，请问发生了什么事？我爷爷突然晕倒了，叫他也没有反应。他还有呼吸吗？有，但是呼吸很弱。请告诉我详细地址。人民路八十八号，三单元五楼。救护车马上就到，请打开房门，不要随便移动病人。一，二，三，四，五，六，七，八，九，零。请保持电话畅通。"
T[vi]="Alô, cấp cứu phải không? Ở đây có một vụ tai nạn giao thông, một người đi xe máy bị ngã và chảy máu rất nhiều. Địa chỉ ở đâu? Số bốn mươi lăm đường Lê Lợi, gần chợ Bến Thành. Xe cứu thương đang đến, đừng di chuyển người bị thương. Một, hai, ba, bốn, năm, sáu, bảy, tám, chín, không. Xin giữ máy, đừng cúp điện thoại."
T[ar]="الطوارئ، ما هي حالتك الطارئة؟ هناك حريق في المطبخ والدخان يملأ الشقة. ما هو العنوان؟ شارع الملك فيصل، عمارة رقم خمسة عشر، الطابق الثالث. هل يوجد أحد في الداخل؟ نعم، ابني الصغير في غرفته. اخرجوا جميعا فورا، رجال الإطفاء في الطريق. واحد، اثنان، ثلاثة، أربعة، خمسة، ستة، سبعة، ثمانية، تسعة، صفر. ابق على الخط من فضلك."
langs=(en-us es-419 fr-fr de it pt-br pl ru hi cmn vi ar)
low=(m1 m3 klatt m7 klatt3 m2 m5 klatt4 m6 m4 m8 klatt2)
high=(f1 f4 croak f2 grandma f3 klatt6 f5 steph whisperf linda f2)
v=()
for i in "${!langs[@]}"; do
  l=${langs[$i]}
  for r in 0 1; do
    if [ "$r" = 0 ]; then var=${low[$i]}; sp=$((110 + (i * 17) % 100)); pi=$((10 + (i * 13) % 60))
    else var=${high[$i]}; sp=$((150 + (i * 23) % 106)); pi=$((40 + (i * 11) % 59)); fi
    espeak-ng -v "$l+$var" -s "$sp" -p "$pi" -w "$tmp/v$i-$r.wav" "${T[$l]} ${T[$l]} ${T[$l]}"
    sox "$tmp/v$i-$r.wav" -r 8000 -c 1 -b 16 "$tmp/t$i-$r.wav" sinc 300-3400 trim 0 70 norm -1
    v+=("$tmp/t$i-$r.wav")
  done
done
sox "${v[@]}" -e mu-law -b 8 -r 8000 -c 1 voices.wav
soxi -D speech.wav music.wav voices.wav
